#pragma once
// InfoNCE for momentum-contrast methods (MoCo v2, He et al. 2020 / Chen et al. 2020; MoCo v3,
// Chen, Xie & He 2021).
//
// Queue form (MoCo v2): every query q_i has one positive, the key k_i of the other view from the
// momentum encoder, and K negatives, the keys of earlier batches kept in a queue:
//
//   l_i = -log exp(n(q_i).n(k_i) / tau) / [exp(n(q_i).n(k_i) / tau) + sum_j exp(n(q_i).u_j / tau)]
//   L   = (1 / N) sum_i l_i          (cross-entropy over [q.k+, q.queue] / tau with target 0)
//
// The queue rows u_j are used as they are: they were normalized when enqueued, and renormalizing
// K (up to 65536) keys every step would cost more than the loss itself.
//
// In-batch form (MoCo v3): the negatives of q_i are the other keys of the same batch,
//
//   L = CE(n(q) n(k)^T / tau, targets arange(N)),  times 2 tau when scale_by_2tau
//
// The MoCo v3 paper and solo-learn multiply by 2 tau, which cancels the 1/tau that the gradient
// with respect to the similarities carries. The symmetric sum over the two view orders is left to
// the method. Gradients flow into both q and k: MoCo's keys come from a momentum encoder that does
// not require grad, so nothing is detached here.
#include <torch/torch.h>

namespace selfsup::losses {

struct InfoNCEOptions {
  /// Softmax temperature tau (> 0); MoCo v2 uses 0.2, solo-learn's MoCo v2+ 0.1-0.2.
  TORCH_ARG(double, temperature) = 0.2;
};

struct InfoNCEInBatchOptions {
  /// Softmax temperature tau (> 0); MoCo v3 uses 0.2.
  TORCH_ARG(double, temperature) = 0.2;
  /// Multiply the loss by 2 tau as the MoCo v3 paper and solo-learn do.
  TORCH_ARG(bool, scale_by_2tau) = true;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::InfoNCEInBatchOptions;
using losses::InfoNCEOptions;

/// InfoNCE of queries q [N, D] against their keys k [N, D] (both normalized here) and a queue
/// [K, D] of already normalized negative keys (cast to q's compute dtype, never renormalized).
/// An undefined queue or one with K = 0 rows leaves no queued negatives: the other keys of the
/// batch are used instead, i.e. the result equals info_nce_in_batch(q, k) without the 2 tau
/// scaling.
torch::Tensor info_nce(const torch::Tensor& q, const torch::Tensor& k,
                       const torch::Tensor& queue = {}, const InfoNCEOptions& options = {});

/// MoCo v3 InfoNCE: logits n(q) n(k)^T / tau, targets arange(N), optionally times 2 tau.
torch::Tensor info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& k,
                                const InfoNCEInBatchOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::info_nce (MoCo v2).
class InfoNCELossImpl : public torch::nn::Cloneable<InfoNCELossImpl> {
 public:
  explicit InfoNCELossImpl(InfoNCEOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& queue = {});

  InfoNCEOptions options;
};
TORCH_MODULE(InfoNCELoss);

/// Module form of functional::info_nce_in_batch (MoCo v3).
class InfoNCEInBatchLossImpl : public torch::nn::Cloneable<InfoNCEInBatchLossImpl> {
 public:
  explicit InfoNCEInBatchLossImpl(InfoNCEInBatchOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k);

  InfoNCEInBatchOptions options;
};
TORCH_MODULE(InfoNCEInBatchLoss);

}  // namespace selfsup::losses
