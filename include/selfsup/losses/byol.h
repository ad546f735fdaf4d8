#pragma once
// BYOL's regression loss (Grill et al. 2020): the online network's prediction p must match the
// target network's projection z, compared by direction only:
//
//   L = (1 / N) sum_i || n(p_i) - n(sg(z_i)) ||^2 = (1 / N) sum_i [2 - 2 cos(p_i, z_i)]
//
// The stop-gradient sg is applied here (z is detached): the target side is an EMA of the online
// network and must not be trained by this loss; leaving it to the caller is how collapse bugs
// happen. The method adds the two view orders itself, as the paper's symmetrized loss does.
// Matches solo-learn's byol_loss_func; lightly's BYOL uses -cos instead (the same gradient
// halved, and the same minimizer).
#include <torch/torch.h>

namespace selfsup::functional {

/// mean over the batch of 2 - 2 cos(p_i, sg(z_i)); p, z [N, D] (N >= 1): a scalar in [0, 4].
torch::Tensor byol_loss(const torch::Tensor& p, const torch::Tensor& z);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::byol_loss (no hyper-parameters).
class BYOLLossImpl : public torch::nn::Cloneable<BYOLLossImpl> {
 public:
  BYOLLossImpl() = default;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& p, const torch::Tensor& z);
};
TORCH_MODULE(BYOLLoss);

}  // namespace selfsup::losses
