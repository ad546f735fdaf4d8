#pragma once
// Variational PU learning (VPU, Chen et al. 2020): no class prior. The classifier's
// Phi(x) = sigmoid(g(x)) is fitted so that Phi on the unlabeled data explains the labeled
// positives, by the variational bound
//
//   L_var = log E_u[Phi(x)] - E_p[log Phi(x)]
//
// (computed in log space: logsumexp(log Phi_u) - log N_u - mean log Phi_p), plus a MixUp
// consistency term that keeps Phi from going to extremes between the two sets: mixing an
// unlabeled image with a labeled positive, x~ = lam x_u + (1 - lam) x_p, whose Phi should be the
// same mix of Phi(x_u) and a positive's 1,
//
//   Phi~ = lam Phi(x_u) + (1 - lam),   L_reg = mean (log Phi~ - log Phi(x~))^2.
//
// As in the reference code the gradient also flows through Phi(x_u) in the target. Phi is only
// defined up to its scale: the decision divides by its maximum over the unlabeled training data
// (methods/pu/vpu.cpp).
#include <torch/torch.h>

namespace selfsup::functional {

/// L_var of scores g_pos [Np] and g_unl [Nu] (1-D, floating-point, same device).
torch::Tensor vpu_variational_loss(const torch::Tensor& g_pos, const torch::Tensor& g_unl);

/// L_reg of the scores g_mixed [N] of the mixed images and g_unl [N] of their unlabeled
/// components (row i mixes unlabeled image i with a positive at weight lam in [0, 1]).
torch::Tensor vpu_mixup_regularizer(const torch::Tensor& g_mixed, const torch::Tensor& g_unl, double lam);

}  // namespace selfsup::functional
