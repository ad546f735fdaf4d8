#pragma once
// Co-teaching (Han et al. 2018): two networks see the same batch; each ranks the examples by its
// own cross-entropy, keeps the R(t) = 1 - forget_rate(t) fraction with the smallest loss (networks
// fit clean labels before noisy ones, so a small loss suggests a clean label), and the *other*
// network is updated on that selection:
//
//   keep  = max(1, floor((1 - forget_rate) N))
//   S_a   = the keep indices of smallest CE(logits_a, y),   S_b likewise for logits_b
//   L_a   = mean_{i in S_b} CE(logits_a_i, y_i),             L_b = mean_{i in S_a} CE(logits_b_i, y_i)
//
// forget_rate(t) = tau min(t / T_k, 1): 0 at the start, tau (the paper: the noise rate) after T_k
// epochs (the paper: 10), linear in between; t counts epochs, fractions included (the paper steps
// it once per epoch). Ties in the ranking go to the lower index.
#include <torch/torch.h>

namespace selfsup::losses {

struct CoTeachingOptions {
  /// The fraction of each batch dropped, in [0, 1).
  TORCH_ARG(double, forget_rate) = 0.2;
};

/// The two networks' losses and the selections behind them (detached int64 indices into the batch).
struct CoTeachingOutput {
  torch::Tensor loss_a, loss_b;          ///< scalars: a trained on b's selection, b on a's
  torch::Tensor selected_a, selected_b;  ///< [keep]: the small-loss examples by a's and by b's loss
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::CoTeachingOptions;
using losses::CoTeachingOutput;

/// tau min(epoch / ramp_epochs, 1), ramp_epochs >= 0 (0: tau from the start).
double co_teaching_forget_rate(double epoch, double tau, double ramp_epochs);

/// The indices of the max(1, floor((1 - forget_rate) N)) smallest entries of per-example losses [N].
torch::Tensor small_loss_selection(const torch::Tensor& losses, double forget_rate);

/// The exchange above for logits_a, logits_b [N, C] and int64 labels [N].
CoTeachingOutput co_teaching_loss(const torch::Tensor& logits_a, const torch::Tensor& logits_b,
                                  const torch::Tensor& labels, const CoTeachingOptions& options = {});

}  // namespace selfsup::functional
