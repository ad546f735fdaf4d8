#include "selfsup/losses/info_nce.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kQueueName = "info_nce";
constexpr const char* kInBatchName = "info_nce_in_batch";

namespace F = torch::nn::functional;
namespace D = losses::detail;

// Cross-entropy of n(q) n(k)^T / tau toward the diagonal: each query's positive is its own key.
torch::Tensor in_batch_cross_entropy(const torch::Tensor& q, const torch::Tensor& k,
                                     double temperature) {
  const torch::Tensor logits = D::normalize_rows(q).mm(D::normalize_rows(k).t()) / temperature;
  const torch::Tensor targets =
      torch::arange(q.size(0), torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return F::cross_entropy(logits, targets);
}

void check_info_nce_options(const losses::InfoNCEOptions& options) {
  D::check_positive(options.temperature(), kQueueName, "temperature");
}

void check_info_nce_options(const losses::InfoNCEInBatchOptions& options) {
  D::check_positive(options.temperature(), kInBatchName, "temperature");
}

}  // namespace

namespace functional {

torch::Tensor info_nce(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                       const InfoNCEOptions& options) {
  D::check_views(q, k, kQueueName, "q", "k", /*min_rows=*/1);
  check_info_nce_options(options);
  if (!queue.defined() || (queue.dim() == 2 && queue.size(0) == 0)) {
    return in_batch_cross_entropy(q, k, options.temperature());
  }
  TORCH_CHECK(queue.dim() == 2 && queue.size(1) == q.size(1), kQueueName,
              ": queue must be a [K, D] tensor with D = ", q.size(1),
              " (the width of q), got shape ", queue.sizes());
  TORCH_CHECK(queue.is_floating_point(), kQueueName, ": queue must be floating-point, got dtype ",
              queue.scalar_type());
  TORCH_CHECK(queue.device() == q.device(), kQueueName, ": queue must be on q's device ",
              q.device(), ", got ", queue.device());
  const torch::Tensor qn = D::normalize_rows(q);
  const torch::Tensor positive = (qn * D::normalize_rows(k)).sum(1, /*keepdim=*/true);
  const torch::Tensor negatives = qn.mm(D::to_compute_dtype(queue).to(qn.scalar_type()).t());
  const torch::Tensor logits = torch::cat({positive, negatives}, 1) / options.temperature();
  const torch::Tensor targets =
      torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return F::cross_entropy(logits, targets);
}

torch::Tensor info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& k,
                                const InfoNCEInBatchOptions& options) {
  D::check_views(q, k, kInBatchName, "q", "k", /*min_rows=*/1);
  check_info_nce_options(options);
  const torch::Tensor loss = in_batch_cross_entropy(q, k, options.temperature());
  return options.scale_by_2tau() ? loss * (2 * options.temperature()) : loss;
}

}  // namespace functional

namespace losses {

InfoNCELossImpl::InfoNCELossImpl(InfoNCEOptions options_) : options(options_) { reset(); }

void InfoNCELossImpl::reset() { check_info_nce_options(options); }

void InfoNCELossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::InfoNCELoss(temperature=" << options.temperature() << ")";
}

torch::Tensor InfoNCELossImpl::forward(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& queue) {
  return functional::info_nce(q, k, queue, options);
}

InfoNCEInBatchLossImpl::InfoNCEInBatchLossImpl(InfoNCEInBatchOptions options_) : options(options_) {
  reset();
}

void InfoNCEInBatchLossImpl::reset() { check_info_nce_options(options); }

void InfoNCEInBatchLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::InfoNCEInBatchLoss(temperature=" << options.temperature()
         << ", scale_by_2tau=" << std::boolalpha << options.scale_by_2tau() << ")";
}

torch::Tensor InfoNCEInBatchLossImpl::forward(const torch::Tensor& q, const torch::Tensor& k) {
  return functional::info_nce_in_batch(q, k, options);
}

}  // namespace losses
}  // namespace selfsup
