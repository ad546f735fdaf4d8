#pragma once
// Barlow Twins (Zbontar et al. 2021): make the cross-correlation matrix of the two views'
// embeddings the identity. Each feature is standardized over the batch exactly as BatchNorm1d
// without affine parameters does in training mode (biased variance, eps inside the square root):
//
//   zn = (z - mean_batch(z)) / sqrt(var_batch(z) + eps)
//   C  = zn1^T zn2 / N                                           [D, D]
//   L  = scale * [ sum_i (1 - C_ii)^2  +  lambda sum_{i != j} C_ij^2 ]
//
// The diagonal term makes each feature invariant to the augmentation; the off-diagonal term
// decorrelates features so that they cannot all carry the same (collapsed) information. lambda is
// small because there are D(D-1) off-diagonal terms against D diagonal ones.
// Matches the paper and solo-learn's barlow_loss_func (which scales by 0.1 on CIFAR). lightly's
// BarlowTwinsLoss divides by the unbiased std without eps, a slightly different C.
#include <torch/torch.h>

namespace selfsup::losses {

struct BarlowTwinsOptions {
  /// Weight lambda (>= 0) of the off-diagonal (redundancy reduction) term; the paper's 0.0051.
  TORCH_ARG(double, lambda) = 0.0051;
  /// Overall factor (> 0); solo-learn uses 0.1 on CIFAR, the paper 1.
  TORCH_ARG(double, scale) = 1.0;
  /// BatchNorm's eps (> 0) inside the square root of the batch variance.
  TORCH_ARG(double, eps) = 1e-5;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::BarlowTwinsOptions;

/// Barlow Twins loss of two views z1, z2 [N, D] (N >= 2, batch statistics need two samples).
torch::Tensor barlow_twins_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                                const BarlowTwinsOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::barlow_twins_loss. It holds no BatchNorm state: the
/// standardization uses the current batch only, as the paper's BatchNorm does in training.
class BarlowTwinsLossImpl : public torch::nn::Cloneable<BarlowTwinsLossImpl> {
 public:
  explicit BarlowTwinsLossImpl(BarlowTwinsOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& z1, const torch::Tensor& z2);

  BarlowTwinsOptions options;
};
TORCH_MODULE(BarlowTwinsLoss);

}  // namespace selfsup::losses
