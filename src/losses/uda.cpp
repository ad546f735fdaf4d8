#include "selfsup/losses/uda.h"

#include <cmath>

#include "selfsup/losses/common.h"
#include "selfsup/losses/consistency.h"

namespace selfsup {
namespace {

constexpr const char* kUda = "uda_loss";
namespace D = losses::detail;

void check_uda_options(const losses::UDAOptions& options) {
  D::check_positive(options.temperature(), kUda, "temperature");
  TORCH_CHECK(std::isfinite(options.threshold()) && options.threshold() >= 0 &&
                  options.threshold() <= 1,
              kUda, ": threshold must be in [0, 1], got ", options.threshold());
}

}  // namespace

namespace functional {

torch::Tensor masked_soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                        const torch::Tensor& mask, MaskedMean mean) {
  constexpr const char* kFn = "masked_soft_cross_entropy";
  D::check_matrix(logits, kFn, "logits", /*min_rows=*/1);
  D::check_matrix(targets, kFn, "targets", /*min_rows=*/1);
  TORCH_CHECK(logits.sizes() == targets.sizes(), kFn,
              ": logits and targets must have the same shape, got logits ", logits.sizes(),
              " and targets ", targets.sizes());
  TORCH_CHECK(logits.device() == targets.device(), kFn,
              ": logits and targets must be on the same device, got ", logits.device(), " and ",
              targets.device());
  D::check_per_sample(mask, logits.size(0), logits.device(), kFn, "mask");
  const torch::Tensor log_p = torch::log_softmax(D::to_compute_dtype(logits), 1);
  // A zero target entry contributes 0 even where log p = -inf (masked_fill, not 0 * -inf = NaN).
  const torch::Tensor t = targets.detach().to(log_p.scalar_type());
  const torch::Tensor per_sample = -(t * log_p.masked_fill(t == 0, 0)).sum(1);
  return masked_mean(per_sample, mask, mean);
}

UDALossOutput uda_loss(const torch::Tensor& logits, const torch::Tensor& target_logits,
                       const UDAOptions& options) {
  check_uda_options(options);
  D::check_matrix(logits, kUda, "logits", /*min_rows=*/1);
  D::check_matrix(target_logits, kUda, "target_logits", /*min_rows=*/1);
  TORCH_CHECK(logits.sizes() == target_logits.sizes(), kUda,
              ": logits and target_logits must have the same shape, got ", logits.sizes(),
              " and ", target_logits.sizes());
  torch::Tensor targets, mask;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor q =
        torch::softmax(D::to_compute_dtype(target_logits.detach()), 1).to(logits.device());
    mask = (std::get<0>(q.max(1)) >= options.threshold()).to(q.scalar_type());
    targets = sharpen(q, options.temperature());
  }
  torch::Tensor loss = masked_soft_cross_entropy(logits, targets, mask, options.masked_mean());
  return {loss, mask};
}

}  // namespace functional

namespace losses {

UDALossImpl::UDALossImpl(UDAOptions options_) : options(options_) { reset(); }

void UDALossImpl::reset() { check_uda_options(options); }

void UDALossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::UDALoss(temperature=" << options.temperature()
         << ", threshold=" << options.threshold()
         << ", masked_mean=" << functional::masked_mean_name(options.masked_mean()) << ")";
}

UDALossOutput UDALossImpl::forward(const torch::Tensor& logits,
                                   const torch::Tensor& target_logits) {
  return functional::uda_loss(logits, target_logits, options);
}

}  // namespace losses
}  // namespace selfsup
