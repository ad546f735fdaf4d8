#pragma once
// SimMatch (Zheng et al. 2022): pseudo-labels that also listen to the labeled images' embeddings,
// and an instance-similarity loss toward them. USB's semantics (its CIFAR path).
//
// A bank holds one unit embedding b_k [D] per labeled image with its label y_k. For the weak view
// of an unlabeled image, with its unit embedding w and class prediction p [C] (detached):
//
//   q_k  = softmax_k(w . b_k / T)                                 similarity to each labeled image
//   a_c  = sum_{k: y_k = c} q_k                                   ... aggregated per class
//   p~   = alpha p + (1 - alpha) a                                the pseudo-label (thresholded)
//   q~_k = q_k p_{y_k} / sum_j q_j p_{y_j}                        the instance target ("unfolded")
//
// and the strong view's unit embedding s is trained toward q~ over the same bank:
//
//   L_in = mean_i H(q~_i, softmax_k(s_i . b_k / T)),   H(t, r) = -sum_k t_k log r_k
//
// Why: FixMatch's pseudo-label is the classifier's alone, and with 10 labels per class its errors
// (shirt read as T-shirt) feed themselves. a says which labeled images the image looks like in
// embedding space, a second opinion that is wrong in different places, and q~ keeps the instance
// target on the labeled images of the classes the classifier believes in. With alpha = 1 the
// pseudo-label is p itself. Defaults are USB's: T 0.1, alpha 0.9.
#include <torch/torch.h>

namespace selfsup::losses {

struct SimMatchOptions {
  /// Temperature T (> 0) of the similarities to the bank.
  TORCH_ARG(double, temperature) = 0.1;
  /// Weight alpha in [0, 1] of the classifier's prediction in the pseudo-label.
  TORCH_ARG(double, smoothing_alpha) = 0.9;
};

/// The two targets of one weak batch, detached.
struct SimMatchTargets {
  torch::Tensor class_probs;     ///< p~ [N, C], rows sum to 1
  torch::Tensor instance_probs;  ///< q~ [N, K], rows sum to 1
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::SimMatchOptions;
using losses::SimMatchTargets;

/// p~ and q~ from the weak view's class probabilities weak_probs [N, C], its embeddings
/// weak_embeddings [N, D] (normalised here), the bank's unit embeddings bank [K, D] and their
/// labels bank_labels int64 [K] in [0, C).
SimMatchTargets simmatch_targets(const torch::Tensor& weak_probs, const torch::Tensor& weak_embeddings,
                                 const torch::Tensor& bank, const torch::Tensor& bank_labels,
                                 const SimMatchOptions& options = {});

/// L_in of the strong view's embeddings strong_embeddings [N, D] (normalised here; the gradient
/// flows through them) toward instance_probs [N, K] (detached) over the bank [K, D].
torch::Tensor instance_similarity_loss(const torch::Tensor& strong_embeddings, const torch::Tensor& bank,
                                       const torch::Tensor& instance_probs, double temperature = 0.1);

}  // namespace selfsup::functional

namespace selfsup::losses {

struct LabeledBankOptions {
  LabeledBankOptions(int64_t size, int64_t dim) : size_(size), dim_(dim) {}
  /// Number of labeled images K (one slot each).
  TORCH_ARG(int64_t, size);
  /// Embedding dimension D.
  TORCH_ARG(int64_t, dim);
  /// Share of a slot's old embedding kept when it is written again, in [0, 1) (USB: 0.7).
  TORCH_ARG(double, momentum) = 0.7;
};

/// SimMatch's bank of labeled embeddings, as buffers of a module (checkpointed with it).
class LabeledBankImpl : public torch::nn::Cloneable<LabeledBankImpl> {
 public:
  explicit LabeledBankImpl(LabeledBankOptions options);
  /// Checks the options and (re)registers empty buffers: nothing written yet.
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// Writes embeddings [B, D] (detached) with their labels int64 [B] into slots int64 [B] in
  /// [0, K): a slot written before becomes normalize(m old + (1 - m) new), a fresh one
  /// normalize(new). When a slot appears twice in one batch, one of its rows is written.
  void update(const torch::Tensor& embeddings, const torch::Tensor& labels, const torch::Tensor& slots);
  /// True once every slot has been written: before that the bank holds placeholders.
  bool full() const;

  LabeledBankOptions options;
  torch::Tensor embeddings;  ///< buffer "embeddings": float32 [K, D], unit rows once written
  torch::Tensor labels;      ///< buffer "labels": int64 [K]
  torch::Tensor written;     ///< buffer "written": bool [K]
};
TORCH_MODULE(LabeledBank);

}  // namespace selfsup::losses
