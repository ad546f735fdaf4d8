#pragma once
// Distribution alignment (Berthelot et al. 2020, ReMixMatch; USB's DistAlignEMAHook): the
// unlabeled predictions q_i are rescaled so that their running mean matches a target class
// distribution before they become pseudo-labels,
//
//   p_model <- m p_model + (1 - m) mean_i q_i       (the first batch sets p_model = mean_i q_i)
//   q~_ic    = q_ic (p_target_c + eps) / (p_model_c + eps),  renormalised over c,   eps = 1e-6
//
// with the update first, then the alignment (USB's order). A classifier that has grown confident
// in a few classes (early in training, or on confusable ones such as shirt / T-shirt) predicts
// them too often; dividing by its own running marginal lowers those classes' probabilities and
// raises the under-predicted ones, so fewer confident wrong pseudo-labels reach the threshold.
// The target is uniform by default: the labeled split has the same number of images per class.
// Here the alignment is applied to logits, which gives the same probabilities exactly:
// softmax(z + log(p_target + eps) - log(p_model + eps)) = q~, and leaves the softmax, argmax and
// threshold of the pseudo-labeling untouched. p_model and the number of updates are buffers:
// they travel with the module's device and its checkpoint, so a resumed run aligns as before.
#include <torch/torch.h>

namespace selfsup::losses {

struct DistributionAlignmentOptions {
  explicit DistributionAlignmentOptions(int64_t num_classes) : num_classes_(num_classes) {}
  /// Number of classes C (>= 2).
  TORCH_ARG(int64_t, num_classes);
  /// EMA momentum m of p_model in [0, 1) (USB: 0.999).
  TORCH_ARG(double, momentum) = 0.999;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::DistributionAlignmentOptions;

/// Logits [N, C] whose softmax is q aligned from p_model to p_target (both [C], non-negative),
/// detached and in the compute dtype (float32 for bf16 input).
torch::Tensor distribution_align(const torch::Tensor& logits, const torch::Tensor& p_model,
                                 const torch::Tensor& p_target);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// The running p_model of distribution alignment, with a uniform target.
class DistributionAlignmentImpl : public torch::nn::Cloneable<DistributionAlignmentImpl> {
 public:
  explicit DistributionAlignmentImpl(DistributionAlignmentOptions options);
  /// Checks the options and (re)registers fresh buffers: uniform p_model, no update yet.
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// Updates p_model with softmax(logits) of the batch (logits [N, C], detached), then returns
  /// the aligned logits (functional::distribution_align).
  torch::Tensor forward(const torch::Tensor& logits);

  DistributionAlignmentOptions options;
  torch::Tensor p_model;   ///< buffer "p_model": float64 [C], running mean prediction
  torch::Tensor p_target;  ///< buffer "p_target": float64 [C], uniform
  torch::Tensor updates;   ///< buffer "updates": int64 0-d, batches seen
};
TORCH_MODULE(DistributionAlignment);

}  // namespace selfsup::losses
