#pragma once
// Supervised contrastive loss, the L_out form (Khosla et al. 2020, Eq. 2): NT-Xent where every
// other view carrying the anchor's label is a positive. For the M stacked views z [M, D] with
// labels y, anchor a, its positives P(a) = {p != a : y_p = y_a} and all others A(a) = {b != a}:
//
//   l(a) = -(1/|P(a)|) sum_{p in P(a)} log exp(s(a,p) / tau) / sum_{b in A(a)} exp(s(a,b) / tau)
//   L    = mean of l(a) over the anchors with |P(a)| >= 1
//
// L_out averages the log-probabilities of the positives (outside the log); the paper shows it
// trains better than L_in, which averages the probabilities inside the log. An anchor with no
// positive (a label seen once in the batch) has no target and is left out of the mean rather
// than counted as 0, so the loss does not shrink with the number of singletons; a batch with no
// positive pair at all gives 0. With labels = sample index repeated per view it is NT-Xent.
// Differences from other code: the paper's code multiplies by tau / 0.07 (base temperature) and
// counts positive-less anchors as 0; lightly multiplies by tau (rescale); solo-learn's SupCon is
// the L_in form. None of these scalings is applied here.
#include <torch/torch.h>

namespace selfsup::losses {

struct SupConOptions {
  /// Softmax temperature tau (> 0); solo-learn uses 0.1-0.2, the paper 0.1.
  TORCH_ARG(double, temperature) = 0.1;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::SupConOptions;

/// SupCon (L_out) of the stacked views z [M, D] (M >= 2, any number of views per sample, in any
/// order) with int64 labels [M]; or of z [N, V, D] (V views of each of N samples) with labels [N].
torch::Tensor supcon_loss(const torch::Tensor& z, const torch::Tensor& labels,
                          const SupConOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::supcon_loss.
class SupConLossImpl : public torch::nn::Cloneable<SupConLossImpl> {
 public:
  explicit SupConLossImpl(SupConOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& z, const torch::Tensor& labels);

  SupConOptions options;
};
TORCH_MODULE(SupConLoss);

}  // namespace selfsup::losses
