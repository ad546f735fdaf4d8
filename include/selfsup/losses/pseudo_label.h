#pragma once
// Hard pseudo-labels behind a confidence threshold, and the masked cross-entropy toward them: the
// unlabeled loss of Pseudo-Label (Lee 2013), FixMatch (Sohn et al. 2020) and, with one threshold
// per class, FlexMatch (Zhang et al. 2021):
//
//   q_i = softmax(sg target_logits_i),   y_i = argmax_c q_ic,   m_i = [max_c q_ic >= tau(y_i)]
//   L   = sum_i m_i CE(logits_i, y_i) / D,   D = N (default) or sum_i m_i   (see masked_mean.h)
//
// FixMatch and FlexMatch take the targets from the weak view and the logits from the strong view;
// Pseudo-Label uses the same logits for both. The targets are detached: a pseudo-label is a
// target, and a gradient through it would reward the model for moving its own targets. The test
// is >= (USB's max_probs.ge(p_cutoff)), so tau = 0 accepts everything and tau = 1 accepts only
// one-hot predictions. Defaults are USB's: tau 0.95, divided by the whole unlabeled batch.
#include <torch/torch.h>

#include "selfsup/losses/masked_mean.h"

namespace selfsup::losses {

struct PseudoLabelOptions {
  /// Confidence threshold tau in [0, 1] (FixMatch and USB's Pseudo-Label: 0.95).
  TORCH_ARG(double, threshold) = 0.95;
  /// Divide by the whole unlabeled batch (USB) or by the number of accepted samples.
  TORCH_ARG(MaskedMean, masked_mean) = MaskedMean::kBatch;
};

/// Pseudo-labels of a batch, all detached.
struct PseudoLabels {
  torch::Tensor labels;      ///< int64 [N], argmax of the probabilities
  torch::Tensor confidence;  ///< [N], their largest probability (compute dtype of the logits)
  torch::Tensor mask;        ///< [N], 1 where confidence >= the threshold of the label's class, else 0
};

/// The loss and the pseudo-labels behind it (log the mask rate and pseudo-label accuracy).
struct PseudoLabelLossOutput {
  torch::Tensor loss;
  PseudoLabels pseudo;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::PseudoLabelLossOutput;
using losses::PseudoLabelOptions;
using losses::PseudoLabels;

/// Pseudo-labels of logits [N, C] (detached). thresholds: a 0-d tensor (one tau) or one per class
/// [C] (FlexMatch), every value in [0, 1].
PseudoLabels hard_pseudo_labels(const torch::Tensor& logits, const torch::Tensor& thresholds);

/// The same with one threshold tau in [0, 1].
PseudoLabels hard_pseudo_labels(const torch::Tensor& logits, double threshold);

/// sum_i mask_i CE(logits_i, labels_i) / D: logits [N, C], int64 labels [N], mask [N] (detached);
/// D as in masked_mean.
torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                   const torch::Tensor& mask,
                                   MaskedMean mean = MaskedMean::kBatch);

/// The Pseudo-Label / FixMatch loss: pseudo-labels of sg target_logits (the weak view, or logits
/// themselves) with one threshold, masked cross-entropy of logits [N, C] toward them.
PseudoLabelLossOutput pseudo_label_loss(const torch::Tensor& logits,
                                        const torch::Tensor& target_logits,
                                        const PseudoLabelOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::pseudo_label_loss.
class PseudoLabelLossImpl : public torch::nn::Cloneable<PseudoLabelLossImpl> {
 public:
  explicit PseudoLabelLossImpl(PseudoLabelOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  PseudoLabelLossOutput forward(const torch::Tensor& logits, const torch::Tensor& target_logits);

  PseudoLabelOptions options;
};
TORCH_MODULE(PseudoLabelLoss);

}  // namespace selfsup::losses
