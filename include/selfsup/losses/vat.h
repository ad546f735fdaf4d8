#pragma once
// Virtual adversarial training (Miyato et al. 2018): the local distributional smoothness loss
// KL(p(x) || p(x + r_adv)), with r_adv the perturbation of norm eps that most increases that KL,
// found by power iteration on the KL's Hessian H (the KL and its gradient vanish at r = 0, so the
// gradient at a small step xi d is xi H d + O(xi^2)):
//
//   d <- n(random);   repeat K times: d <- n(grad_r KL(sg p(x) || p(x + r)) at r = xi d)
//   r_adv = eps d,    L_vat = (1/N) sum_i KL(sg p(x_i) || p(x_i + r_adv_i))
//
// n() normalizes each sample to unit L2 norm over all its non-batch dimensions, so the same code
// serves [N, D] vectors (MLPs), [N, C, H, W] images and any other rank >= 2 (USB's version only
// handles images). Defaults are USB's: xi 1e-6, eps 6, K 1 (eps 0.3-2 suits MNIST MLPs). The
// power iteration differentiates with respect to r only (torch::autograd::grad), so it leaves no
// gradient in the model's parameters; it does run the model forward, so a model with BatchNorm
// updates its running statistics unless the caller freezes them (USB does). xi must stay above
// the input's rounding error: 1e-6 is lost in bf16/fp16 inputs. VAT adds entropy minimization,
// 0.06 * mean_i H(p(x_i)), which is entropy_loss below.
#include <torch/torch.h>

#include <functional>

namespace selfsup::losses {

struct VATOptions {
  /// Finite-difference step xi (> 0) of the power iteration.
  TORCH_ARG(double, xi) = 1e-6;
  /// L2 norm eps (> 0) of each sample's adversarial perturbation.
  TORCH_ARG(double, eps) = 6.0;
  /// Power iterations K (>= 1); one in the paper and USB.
  TORCH_ARG(int64_t, iterations) = 1;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::VATOptions;

/// A model as VAT sees it: inputs [N, ...] -> logits [N, C].
using LogitsFn = std::function<torch::Tensor(const torch::Tensor&)>;

/// Every sample of x [N, ...] (rank >= 2) divided by its L2 norm over the non-batch dimensions
/// (a zero sample stays zero).
torch::Tensor normalize_per_sample(const torch::Tensor& x);

/// mean_i KL(softmax(sg target_logits_i) || softmax(logits_i)), both [N, C]: a scalar.
torch::Tensor kl_div_from_logits(const torch::Tensor& target_logits, const torch::Tensor& logits);

/// mean_i H(softmax(logits_i)), logits [N, C]: VAT's entropy-minimization term.
torch::Tensor entropy_loss(const torch::Tensor& logits);

/// r_adv (detached, shaped like x, on x's device): || r_adv_i || = eps for every sample i whose
/// KL gradient is not 0. clean_logits = model(x), detached here. The random start is drawn from
/// gen (on gen's device, then moved to x's), so a seed gives the same start on every device.
torch::Tensor vat_perturbation(const LogitsFn& model, const torch::Tensor& x,
                               const torch::Tensor& clean_logits, const VATOptions& options,
                               torch::Generator& gen);

/// L_vat = kl_div_from_logits(clean_logits, model(x + r_adv)): gradients reach the model through
/// the perturbed forward pass only.
torch::Tensor vat_loss(const LogitsFn& model, const torch::Tensor& x,
                       const torch::Tensor& clean_logits, const VATOptions& options,
                       torch::Generator& gen);

}  // namespace selfsup::functional
