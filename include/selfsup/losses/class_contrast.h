#pragma once
// Class-aware contrastive loss on unlabeled data (CCSSL, Yang et al. 2022): an auxiliary term
// for FixMatch-style methods that shapes the feature space with the confident pseudo-labels.
//
// Two views of each unlabeled image (here the weak and the strong one) are projected to z1, z2
// [N, D]. Image i's confident pseudo-label (max_c softmax(sg target_logits_i) >= tau) becomes its
// class; an image below tau is a class of its own. The loss is SupCon (L_out, supcon.h) over the
// 2N views with those labels:
//
//   y_i = argmax_c q_ic if max_c q_ic >= tau, else C + i        (C = number of classes)
//   L   = SupCon([z1; z2], [y; y], temperature)
//
// Why: FixMatch's cross-entropy only moves the confident images, and a wrong pseudo-label pulls
// its image all the way to a wrong class. The contrastive term also trains the unconfident
// images (as SimCLR instances: each one's positive is its other view), and among the confident
// it pulls same-class features together without a one-hot target. With nothing confident it is
// exactly NT-Xent of (z1, z2); with every image confident in one class, SupCon of one class.
// CCSSL also weights each pair by its two confidences; that weighting is left out here.
#include <torch/torch.h>

namespace selfsup::losses {

struct ClassContrastOptions {
  /// Confidence an image's pseudo-label needs to count as its class, in [0, 1] (CCSSL: 0.8).
  TORCH_ARG(double, threshold) = 0.8;
  /// Softmax temperature (> 0) of the SupCon term.
  TORCH_ARG(double, temperature) = 0.2;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::ClassContrastOptions;

/// The contrastive labels: argmax of softmax(target_logits [N, C]) where its probability is >=
/// threshold, else C + i (a class of one). int64 [N], detached.
torch::Tensor class_contrast_labels(const torch::Tensor& target_logits, double threshold);

/// SupCon of the two projected views z1, z2 [N, D] with class_contrast_labels(target_logits).
torch::Tensor class_contrast_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                                  const torch::Tensor& target_logits,
                                  const ClassContrastOptions& options = {});

}  // namespace selfsup::functional
