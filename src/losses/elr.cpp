#include "selfsup/losses/elr.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace D = losses::detail;

torch::Tensor elr_loss(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& targets,
                       const torch::Tensor& indices, const ElrOptions& options) {
  constexpr const char* kName = "elr_loss";
  TORCH_CHECK(std::isfinite(options.beta()) && options.beta() >= 0 && options.beta() < 1, kName,
              ": beta must be in [0, 1), got ", options.beta());
  D::check_non_negative(options.lambda(), kName, "lambda");
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  D::check_per_sample(labels, logits.size(0), logits.device(), kName, "labels");
  D::check_per_sample(indices, logits.size(0), logits.device(), kName, "indices");
  TORCH_CHECK(labels.scalar_type() == torch::kLong && indices.scalar_type() == torch::kLong, kName,
              ": labels and indices must be int64, got ", labels.scalar_type(), " and ", indices.scalar_type());
  TORCH_CHECK(targets.defined() && targets.dim() == 2 && targets.size(1) == logits.size(1) &&
                  targets.device() == logits.device(),
              kName, ": targets must be [M, ", logits.size(1), "] on ", logits.device(), ", got ",
              targets.defined() ? targets.sizes() : torch::IntArrayRef{});
  const auto x = D::to_compute_dtype(logits);
  const auto p = torch::softmax(x, 1).clamp(1e-4, 1 - 1e-4);
  {
    torch::NoGradGuard no_grad;
    const auto q = p.detach();
    const auto updated = options.beta() * targets.index_select(0, indices) +
                         (1 - options.beta()) * (q / q.sum(1, true)).to(targets.scalar_type());
    targets.index_copy_(0, indices, updated);
  }
  const auto t = targets.index_select(0, indices).detach().to(p.scalar_type());
  const auto reg = (1 - (t * p).sum(1)).log().mean();
  return torch::nn::functional::cross_entropy(x, labels) + options.lambda() * reg;
}

}  // namespace selfsup::functional
