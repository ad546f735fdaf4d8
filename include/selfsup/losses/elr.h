#pragma once
// Early-learning regularization (ELR, Liu et al. 2020): networks fit the clean labels first, so a
// running average of each example's own past predictions is a target that resists memorising a
// wrong label. Per example i (its index in the training set):
//
//   p_i = clamp(softmax(logits_i), 1e-4, 1 - 1e-4)
//   t_i <- beta t_i + (1 - beta) sg(p_i) / sum_c sg(p_ic)          (updated before the loss)
//   L   = mean_i CE(logits_i, y_i) + lambda mean_i log(1 - <t_i, p_i>)
//
// The log term falls as p_i aligns with t_i, so its gradient pulls the prediction towards the
// target and away from a label it contradicts. Defaults are the paper's CIFAR-10 ones: beta 0.7,
// lambda 3. The targets start at 0, so the first visit's target is (1 - beta) p_i.
#include <torch/torch.h>

namespace selfsup::losses {

struct ElrOptions {
  /// Momentum of the per-example target, in [0, 1).
  TORCH_ARG(double, beta) = 0.7;
  /// Weight of the regulariser, >= 0.
  TORCH_ARG(double, lambda) = 3.0;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::ElrOptions;

/// Updates rows `indices` of `targets` [M, C] (float, no grad) from logits [N, C] as above and
/// returns L with int64 labels [N]. indices: int64 [N], distinct, in [0, M).
torch::Tensor elr_loss(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& targets,
                       const torch::Tensor& indices, const ElrOptions& options = {});

}  // namespace selfsup::functional
