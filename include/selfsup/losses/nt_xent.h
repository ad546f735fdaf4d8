#pragma once
// NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).
//
// The two views z1, z2 [N, D] are stacked into 2N anchors. Every anchor a has exactly one positive,
// the other view p(a) of the same image, and 2N - 2 negatives, the views of the other images:
//
//   l(a) = -log exp(s(a, p(a)) / tau) / sum_{b != a} exp(s(a, b) / tau),  s = cosine similarity
//   L    = (1 / 2N) sum_a l(a)
//
// The anchor's similarity with itself (always 1, so always the largest logit) is removed from the
// softmax by masking it to -inf: left in, it would dominate the denominator and teach nothing.
// Cosine similarity makes the loss invariant to the scale of each embedding.
// Matches lightly's NTXentLoss (memory bank off) and solo-learn's simclr_loss_func with two views.
#include <torch/torch.h>

namespace selfsup::losses {

struct NTXentOptions {
  /// Softmax temperature tau (> 0). 0.2 is solo-learn's CIFAR default; lightly and the SimCLR
  /// paper use 0.5.
  TORCH_ARG(double, temperature) = 0.2;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::NTXentOptions;

/// NT-Xent of two views z1, z2 [N, D] (N >= 1), mean over the 2N anchors: a scalar.
torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2,
                      const NTXentOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::nt_xent.
class NTXentLossImpl : public torch::nn::Cloneable<NTXentLossImpl> {
 public:
  explicit NTXentLossImpl(NTXentOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& z1, const torch::Tensor& z2);

  NTXentOptions options;
};
TORCH_MODULE(NTXentLoss);

}  // namespace selfsup::losses
