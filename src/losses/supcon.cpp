#include "selfsup/losses/supcon.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kSupCon = "supcon_loss";
namespace D = losses::detail;

void check_supcon_options(const losses::SupConOptions& options) {
  D::check_positive(options.temperature(), kSupCon, "temperature");
}

void check_labels(const torch::Tensor& labels, int64_t rows, const torch::Tensor& z) {
  TORCH_CHECK(labels.defined(), kSupCon, ": labels must be a defined int64 tensor");
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == rows, kSupCon, ": labels must have shape [",
              rows, "] to match z of shape ", z.sizes(), ", got shape ", labels.sizes());
  TORCH_CHECK(labels.scalar_type() == torch::kLong, kSupCon, ": labels must be int64, got dtype ",
              labels.scalar_type());
  TORCH_CHECK(labels.device() == z.device(), kSupCon, ": labels must be on z's device ", z.device(),
              ", got ", labels.device());
}

}  // namespace

namespace functional {

torch::Tensor supcon_loss(const torch::Tensor& z, const torch::Tensor& labels,
                          const SupConOptions& options) {
  check_supcon_options(options);
  torch::Tensor views = z;
  torch::Tensor view_labels = labels;
  if (z.defined() && z.dim() == 3) {
    // [N, V, D]: flatten sample-major, each sample's label repeated for its V views.
    check_labels(labels, z.size(0), z);
    views = z.reshape({z.size(0) * z.size(1), z.size(2)});
    view_labels = labels.repeat_interleave(z.size(1));
  }
  D::check_matrix(views, kSupCon, "z", /*min_rows=*/2);
  check_labels(view_labels, views.size(0), views);

  const torch::Tensor log_prob =
      torch::log_softmax(D::self_excluded_logits(views, options.temperature()), 1);
  const int64_t m = views.size(0);
  const torch::Tensor self =
      torch::eye(m, torch::TensorOptions().dtype(torch::kBool).device(views.device()));
  const torch::Tensor positive = view_labels.unsqueeze(0).eq(view_labels.unsqueeze(1)) & ~self;
  // masked_fill, not a product: the excluded diagonal holds -inf and 0 * -inf is NaN.
  const torch::Tensor positive_log_prob = log_prob.masked_fill(~positive, 0.0).sum(1);
  const torch::Tensor count = positive.sum(1).to(log_prob.scalar_type());
  const torch::Tensor per_anchor = positive_log_prob / count.clamp_min(1.0);
  // Anchors without positives contribute 0 to the sum and are not counted; no host sync needed.
  const torch::Tensor anchors = (count > 0).sum().to(log_prob.scalar_type()).clamp_min(1.0);
  return -per_anchor.sum() / anchors;
}

}  // namespace functional

namespace losses {

SupConLossImpl::SupConLossImpl(SupConOptions options_) : options(options_) { reset(); }

void SupConLossImpl::reset() { check_supcon_options(options); }

void SupConLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::SupConLoss(temperature=" << options.temperature() << ")";
}

torch::Tensor SupConLossImpl::forward(const torch::Tensor& z, const torch::Tensor& labels) {
  return functional::supcon_loss(z, labels, options);
}

}  // namespace losses
}  // namespace selfsup
