#pragma once
// Consistency between the prediction on one view and a soft target from another: the unlabeled
// loss of the Pi-model (Laine & Aila 2017; Sajjadi et al. 2016), Mean Teacher (Tarvainen &
// Valpola 2017) and MixMatch (Berthelot et al. 2019), and the sharpening of MixMatch and UDA.
//
//   softmax_mse_loss:  L = (1 / N C) sum_i sum_c (softmax(logits_i)_c - sg t_ic)^2
//   sharpen:           s(p)_c = p_c^(1/T) / sum_k p_k^(1/T)
//
// The squared error is taken between probabilities (bounded, so a confidently wrong target
// cannot dominate the way it does under cross-entropy) and averaged over the C classes as well as
// the batch: USB's consistency_loss(name='mse') and the MixMatch paper's 1/(L |U'|) factor.
// Targets are detached: Pi-model gives softmax(sg logits of the weak view), Mean Teacher
// softmax(sg teacher(weak view)) where the teacher is the EMA of the student (USB's version puts
// the teacher's logits on both sides and never trains the student; do not copy that), MixMatch
// the mixed, sharpened guesses. Sharpening is computed as softmax(log p / T), which equals the
// formula above, does not underflow to 0 / 0 for small T, and keeps exact zeros at zero;
// softmax(logits / T) (UDA's targets) is the same as sharpen(softmax(logits), T).
#include <torch/torch.h>

namespace selfsup::functional {

/// p^(1/T) renormalized over the last dimension of probabilities p (any rank >= 1, entries >= 0,
/// each row with a positive entry); T > 0. T = 1 returns p, T -> 0 the one-hot argmax.
torch::Tensor sharpen(const torch::Tensor& probabilities, double temperature);

/// mean over batch and classes of (softmax(logits) - sg targets)^2; logits [N, C], targets
/// [N, C] probabilities (N >= 1): a scalar.
torch::Tensor softmax_mse_loss(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::softmax_mse_loss (no hyper-parameters).
class SoftmaxMSELossImpl : public torch::nn::Cloneable<SoftmaxMSELossImpl> {
 public:
  SoftmaxMSELossImpl() = default;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& targets);
};
TORCH_MODULE(SoftmaxMSELoss);

}  // namespace selfsup::losses
