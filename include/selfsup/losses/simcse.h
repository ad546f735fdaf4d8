#pragma once
// SimCSE's in-batch contrastive loss (Gao, Yao & Chen 2021). Each anchor h_i [N, D] has one
// positive h+_i (unsupervised: the same sentence through the encoder a second time, with other
// dropout masks; supervised: its entailment pair) and, as negatives, every other row's positive
// and, in the supervised form, every row's hard negative h-_j:
//
//   l_i = -log exp(s(h_i, h+_i) / tau) / ( sum_j exp(s(h_i, h+_j) / tau) + sum_j exp(s(h_i, h-_j) / tau) )
//   L   = (1 / N) sum_i l_i,     s = cosine similarity,  tau = 0.05
//
// Unlike NT-Xent (losses/nt_xent.h) the anchors are only the first view's rows and the candidates
// only the second view's (and the hard negatives): N - 1 in-batch negatives, as the paper's code
// computes it (its `cos_sim(z1, z2)` cross-entropy).
#include <torch/torch.h>

namespace selfsup::losses {

struct SimCSEOptions {
  /// Softmax temperature tau (> 0); the paper's 0.05.
  TORCH_ARG(double, temperature) = 0.05;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::SimCSEOptions;

/// SimCSE's loss of anchors h [N, D] (N >= 1) against positives [N, D] and, when defined, hard
/// negatives [N, D] (the supervised form): a scalar, the mean over the anchors.
torch::Tensor simcse_loss(const torch::Tensor& anchors, const torch::Tensor& positives,
                          const torch::Tensor& hard_negatives = {}, const SimCSEOptions& options = {});

}  // namespace selfsup::functional
