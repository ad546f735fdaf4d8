#pragma once
// Generalized cross-entropy (Zhang & Sabuncu 2018), a loss robust to label noise between
// cross-entropy (q -> 0) and the mean absolute error of the probabilities (q = 1):
//
//   L_q = mean_i (1 - p_{i,y_i}^q) / q,   p_i = softmax(logits_i),   q in (0, 1], default 0.7.
//
// Its gradient is p_y^q times cross-entropy's, so examples the model finds unlikely (often the
// mislabeled ones) pull less than under cross-entropy. The truncated variant of the paper is not
// built: it needs a per-example pruning pass every few epochs, and the paper reports it close to L_q.
#include <torch/torch.h>

namespace selfsup::losses {

struct GceOptions {
  /// The exponent q in (0, 1] (the paper's 0.7).
  TORCH_ARG(double, q) = 0.7;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::GceOptions;

/// L_q of logits [N, C] and int64 labels [N] in [0, C): a scalar in the compute dtype.
torch::Tensor generalized_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                        const GceOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::generalized_cross_entropy.
class GeneralizedCrossEntropyImpl : public torch::nn::Cloneable<GeneralizedCrossEntropyImpl> {
 public:
  explicit GeneralizedCrossEntropyImpl(GceOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& labels);

  GceOptions options;
};
TORCH_MODULE(GeneralizedCrossEntropy);

}  // namespace selfsup::losses
