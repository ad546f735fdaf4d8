#pragma once
// VICReg (Bardes, Ponce & LeCun 2022): Variance-Invariance-Covariance regularization. Three terms,
// each preventing one failure:
//
//   invariance  s = MSE(z1, z2)                                      (views agree)
//   variance    v = [V(z1) + V(z2)] / 2,  V(z) = (1/D) sum_d relu(1 - sqrt(Var_d(z) + eps))
//                                                                     (no feature collapses)
//   covariance  c = C(z1) + C(z2),        C(z) = (1/D) sum_{i != j} cov(z)_ij^2
//                                                                     (features decorrelate)
//   L = sim_weight s + var_weight v + cov_weight c
//
// Var_d and cov use the unbiased (N - 1) denominator, as the paper's code does (torch.var's
// default). The hinge on the standard deviation (not the variance) keeps the gradient alive near
// collapse, and eps keeps sqrt differentiable at zero variance.
// Matches the paper's code and lightly's VICRegLoss; solo-learn omits the / 2 on the variance
// term (so its variance weight is effectively doubled).
#include <torch/torch.h>

namespace selfsup::losses {

struct VICRegOptions {
  /// Weight (>= 0) of the invariance (MSE) term.
  TORCH_ARG(double, sim_weight) = 25.0;
  /// Weight (>= 0) of the variance hinge.
  TORCH_ARG(double, var_weight) = 25.0;
  /// Weight (>= 0) of the covariance term.
  TORCH_ARG(double, cov_weight) = 1.0;
  /// eps (> 0) added to the variance inside the square root.
  TORCH_ARG(double, eps) = 1e-4;
};

/// The weighted total and its three unweighted terms (scalars, all attached to the graph).
struct VICRegLossOutput {
  torch::Tensor loss;
  torch::Tensor invariance;
  torch::Tensor variance;
  torch::Tensor covariance;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::VICRegLossOutput;
using losses::VICRegOptions;

/// VICReg of two views z1, z2 [N, D] (N >= 2, the unbiased variance needs two samples).
VICRegLossOutput vicreg_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                             const VICRegOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::vicreg_loss.
class VICRegLossImpl : public torch::nn::Cloneable<VICRegLossImpl> {
 public:
  explicit VICRegLossImpl(VICRegOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  VICRegLossOutput forward(const torch::Tensor& z1, const torch::Tensor& z2);

  VICRegOptions options;
};
TORCH_MODULE(VICRegLoss);

}  // namespace selfsup::losses
