#pragma once
// UDA's unlabeled loss (Xie et al. 2020), as USB computes it: a soft, sharpened target from the
// weak view, kept only where the prediction is confident, and the cross-entropy of the strong
// view's logits toward it:
//
//   q_i = softmax(sg target_logits_i),   t_i = sharpen(q_i, T) = softmax(sg target_logits_i / T)
//   m_i = [max_c q_ic >= tau]            (confidence of the unsharpened prediction)
//   L   = sum_i m_i H(t_i, softmax(logits_i)) / D,   H(t, p) = -sum_c t_c log p_c
//
// D = N by default (USB's consistency_loss: mean over the whole unlabeled batch), or sum_i m_i
// (see masked_mean.h). Defaults are USB's: T 0.4, tau 0.8. The paper's KL(t || p) differs from H
// by the target's entropy, a constant for the gradient. Training-signal annealing belongs to the
// supervised term and is not part of this loss.
#include <torch/torch.h>

#include "selfsup/losses/masked_mean.h"

namespace selfsup::losses {

struct UDAOptions {
  /// Sharpening temperature T (> 0) of the target.
  TORCH_ARG(double, temperature) = 0.4;
  /// Confidence threshold tau in [0, 1] on the unsharpened prediction.
  TORCH_ARG(double, threshold) = 0.8;
  /// Divide by the whole unlabeled batch (USB) or by the number of accepted samples.
  TORCH_ARG(MaskedMean, masked_mean) = MaskedMean::kBatch;
};

/// The loss and its mask ([N], 1 = accepted; detached).
struct UDALossOutput {
  torch::Tensor loss;
  torch::Tensor mask;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::UDALossOutput;
using losses::UDAOptions;

/// sum_i mask_i H(targets_i, softmax(logits_i)) / D: logits [N, C], targets [N, C] probabilities
/// (detached here), mask [N] (detached); D as in masked_mean.
torch::Tensor masked_soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                        const torch::Tensor& mask,
                                        MaskedMean mean = MaskedMean::kBatch);

/// UDA's loss of the strong view's logits [N, C] toward the weak view's target_logits [N, C].
UDALossOutput uda_loss(const torch::Tensor& logits, const torch::Tensor& target_logits,
                       const UDAOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::uda_loss.
class UDALossImpl : public torch::nn::Cloneable<UDALossImpl> {
 public:
  explicit UDALossImpl(UDAOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  UDALossOutput forward(const torch::Tensor& logits, const torch::Tensor& target_logits);

  UDAOptions options;
};
TORCH_MODULE(UDALoss);

}  // namespace selfsup::losses
