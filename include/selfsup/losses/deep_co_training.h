#pragma once
// Deep Co-Training (Qiao et al. 2018): two networks trained on the same labels that must agree on
// unlabeled images yet stay different views of them.
//
//   L_cot = H((p1 + p2) / 2) - (H(p1) + H(p2)) / 2          (the Jensen-Shannon divergence)
//   L_dif = H(p1(x), p2(g1(x))) + H(p2(x), p1(g2(x)))
//
// with H(p) the entropy, H(p, q) = -sum p log q the cross-entropy, p_i(x) network i's softmax and
// g_i(x) an adversarial example of network i (FGSM: x + eps sign of the gradient of its
// cross-entropy against its own prediction, or the true label on labeled images). L_dif asks each
// network to keep its answer on the examples that fool the other. Natural logarithms; each term is
// a mean over the batch.
#include <torch/torch.h>

namespace selfsup::functional {

/// L_cot from two networks' logits [N, C] (N >= 1).
torch::Tensor co_training_js(const torch::Tensor& logits1, const torch::Tensor& logits2);

/// L_dif from each network's logits on x and on the other's adversarial examples: logits1 =
/// net1(x), logits2 = net2(x), logits1_on_adv2 = net1(g2(x)), logits2_on_adv1 = net2(g1(x)).
torch::Tensor co_training_view_difference(const torch::Tensor& logits1, const torch::Tensor& logits2,
                                          const torch::Tensor& logits1_on_adv2, const torch::Tensor& logits2_on_adv1);

}  // namespace selfsup::functional
