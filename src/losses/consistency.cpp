#include "selfsup/losses/consistency.h"

#include <limits>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace D = losses::detail;

namespace functional {

torch::Tensor sharpen(const torch::Tensor& probabilities, double temperature) {
  constexpr const char* kName = "sharpen";
  D::check_positive(temperature, kName, "temperature");
  TORCH_CHECK(probabilities.defined() && probabilities.dim() >= 1, kName,
              ": probabilities must have at least one dimension, got ",
              probabilities.defined() ? probabilities.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(probabilities.is_floating_point(), kName,
              ": probabilities must be floating-point, got dtype ", probabilities.scalar_type());
  const torch::Tensor p = D::to_compute_dtype(probabilities);
  // log 0 = -inf keeps zeros at exactly 0. The clamp inside the where keeps the backward finite:
  // without it the unused log branch would send 0 * (1 / 0) = NaN to the zero entries.
  const torch::Tensor log_p =
      torch::where(p > 0, p.clamp_min(1e-30).log(),
                   torch::scalar_tensor(-std::numeric_limits<double>::infinity(), p.options()));
  return torch::softmax(log_p / temperature, -1);
}

torch::Tensor softmax_mse_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  constexpr const char* kName = "softmax_mse_loss";
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  D::check_matrix(targets, kName, "targets", /*min_rows=*/1);
  TORCH_CHECK(logits.sizes() == targets.sizes(), kName,
              ": logits and targets must have the same shape, got logits ", logits.sizes(),
              " and targets ", targets.sizes());
  TORCH_CHECK(logits.device() == targets.device(), kName,
              ": logits and targets must be on the same device, got ", logits.device(), " and ",
              targets.device());
  const torch::Tensor probs = torch::softmax(D::to_compute_dtype(logits), 1);
  return (probs - targets.detach().to(probs.scalar_type())).pow(2).mean();
}

}  // namespace functional

namespace losses {

void SoftmaxMSELossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::SoftmaxMSELoss()";
}

torch::Tensor SoftmaxMSELossImpl::forward(const torch::Tensor& logits,
                                          const torch::Tensor& targets) {
  return functional::softmax_mse_loss(logits, targets);
}

}  // namespace losses
}  // namespace selfsup
