#pragma once
// SimSiam's loss (Chen & He 2021): the predictor output p of one view must point where the
// projection z of the other view points, with no momentum encoder and no negatives:
//
//   L = -(1 / N) sum_i cos(p_i, sg(z_i))
//
// The stop-gradient sg (z detached, applied here) is what keeps SimSiam from collapsing: the
// paper shows that without it the representation collapses to a constant at once. The method
// averages the two view orders, L = [D(p1, z2) + D(p2, z1)] / 2.
// Matches solo-learn's simsiam_loss_func and lightly's NegativeCosineSimilarity.
#include <torch/torch.h>

namespace selfsup::functional {

/// -mean over the batch of cos(p_i, sg(z_i)); p, z [N, D] (N >= 1): a scalar in [-1, 1].
torch::Tensor simsiam_loss(const torch::Tensor& p, const torch::Tensor& z);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::simsiam_loss (no hyper-parameters).
class SimSiamLossImpl : public torch::nn::Cloneable<SimSiamLossImpl> {
 public:
  SimSiamLossImpl() = default;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& p, const torch::Tensor& z);
};
TORCH_MODULE(SimSiamLoss);

}  // namespace selfsup::losses
