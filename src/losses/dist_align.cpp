#include "selfsup/losses/dist_align.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

namespace D = losses::detail;
constexpr double kEps = 1e-6;  // USB's: keeps a class the model never predicts finite

void check_distribution(const torch::Tensor& p, int64_t c, const char* fn, const char* name) {
  TORCH_CHECK(p.defined() && p.dim() == 1 && p.size(0) == c, fn, ": ", name, " must have shape [", c,
              "] (one entry per class), got ", p.defined() ? p.sizes() : torch::IntArrayRef{});
  TORCH_CHECK((p.detach() >= 0).all().item<bool>(), fn, ": ", name, " must be non-negative, got ", p);
}

}  // namespace

namespace functional {

torch::Tensor distribution_align(const torch::Tensor& logits, const torch::Tensor& p_model,
                                 const torch::Tensor& p_target) {
  constexpr const char* kName = "distribution_align";
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  check_distribution(p_model, logits.size(1), kName, "p_model");
  check_distribution(p_target, logits.size(1), kName, "p_target");
  torch::NoGradGuard no_grad;
  const torch::Tensor z = D::to_compute_dtype(logits.detach());
  const torch::Tensor shift = (p_target.to(z.device(), torch::kFloat64) + kEps).log() -
                              (p_model.to(z.device(), torch::kFloat64) + kEps).log();
  return z + shift.to(z.scalar_type());
}

}  // namespace functional

namespace losses {

DistributionAlignmentImpl::DistributionAlignmentImpl(DistributionAlignmentOptions options_)
    : options(options_) {
  reset();
}

void DistributionAlignmentImpl::reset() {
  const int64_t c = options.num_classes();
  TORCH_CHECK(c >= 2, "DistributionAlignment: num_classes must be >= 2, got ", c);
  const double m = options.momentum();
  TORCH_CHECK(std::isfinite(m) && m >= 0 && m < 1, "DistributionAlignment: momentum must be in [0, 1), got ", m);
  p_model = register_buffer("p_model", torch::full({c}, 1.0 / static_cast<double>(c), torch::kFloat64));
  p_target = register_buffer("p_target", torch::full({c}, 1.0 / static_cast<double>(c), torch::kFloat64));
  updates = register_buffer("updates", torch::zeros({}, torch::kLong));
}

void DistributionAlignmentImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::DistributionAlignment(num_classes=" << options.num_classes()
         << ", momentum=" << options.momentum() << ")";
}

torch::Tensor DistributionAlignmentImpl::forward(const torch::Tensor& logits) {
  constexpr const char* kName = "DistributionAlignment";
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  TORCH_CHECK(logits.size(1) == options.num_classes(), kName, ": logits must have ", options.num_classes(),
              " columns (one per class), got ", logits.sizes());
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor mean = torch::softmax(logits.detach().to(torch::kFloat64), 1).mean(0).to(p_model.device());
    if (updates.item<int64_t>() == 0) {
      p_model.copy_(mean);
    } else {
      p_model.mul_(options.momentum()).add_(mean, 1.0 - options.momentum());
    }
    updates.add_(1);
  }
  return functional::distribution_align(logits, p_model, p_target);
}

}  // namespace losses
}  // namespace selfsup
