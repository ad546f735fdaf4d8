#include "selfsup/losses/simcse.h"

#include "selfsup/losses/common.h"

namespace selfsup::functional {

torch::Tensor simcse_loss(const torch::Tensor& anchors, const torch::Tensor& positives,
                          const torch::Tensor& hard_negatives, const SimCSEOptions& options) {
  constexpr const char* kFn = "simcse_loss";
  losses::detail::check_views(anchors, positives, kFn, "anchors", "positives", /*min_rows=*/1);
  losses::detail::check_positive(options.temperature(), kFn, "temperature");
  auto candidates = positives;
  if (hard_negatives.defined()) {
    losses::detail::check_views(anchors, hard_negatives, kFn, "anchors", "hard_negatives", /*min_rows=*/1);
    candidates = torch::cat({positives, hard_negatives});
  }
  const auto logits = torch::mm(losses::detail::normalize_rows(anchors),
                                losses::detail::normalize_rows(candidates).t()) / options.temperature();
  const auto target = torch::arange(anchors.size(0), torch::TensorOptions().dtype(torch::kLong).device(anchors.device()));
  return torch::nn::functional::cross_entropy(logits, target);
}

}  // namespace selfsup::functional
