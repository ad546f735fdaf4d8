#include "selfsup/losses/vpu.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace {

void check_vpu_scores(const torch::Tensor& g, const char* fn, const char* name) {
  TORCH_CHECK(g.defined() && g.dim() == 1 && g.size(0) >= 1, fn, ": ", name,
              " must be a 1-D tensor of scores [N] with N >= 1, got shape ",
              g.defined() ? g.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(g.is_floating_point(), fn, ": ", name, " must be floating-point, got dtype ", g.scalar_type());
}

}  // namespace

torch::Tensor vpu_variational_loss(const torch::Tensor& g_pos, const torch::Tensor& g_unl) {
  constexpr const char* kName = "vpu_variational_loss";
  check_vpu_scores(g_pos, kName, "g_pos");
  check_vpu_scores(g_unl, kName, "g_unl");
  TORCH_CHECK(g_pos.device() == g_unl.device(), kName, ": g_pos and g_unl must be on the same device, got ",
              g_pos.device(), " and ", g_unl.device());
  const auto log_phi_p = torch::log_sigmoid(losses::detail::to_compute_dtype(g_pos));
  const auto log_phi_u = torch::log_sigmoid(losses::detail::to_compute_dtype(g_unl));
  return torch::logsumexp(log_phi_u, 0) - std::log(static_cast<double>(g_unl.size(0))) - log_phi_p.mean();
}

torch::Tensor vpu_mixup_regularizer(const torch::Tensor& g_mixed, const torch::Tensor& g_unl, double lam) {
  constexpr const char* kName = "vpu_mixup_regularizer";
  check_vpu_scores(g_mixed, kName, "g_mixed");
  check_vpu_scores(g_unl, kName, "g_unl");
  TORCH_CHECK(g_mixed.sizes() == g_unl.sizes(), kName, ": g_mixed and g_unl must have the same shape, got ",
              g_mixed.sizes(), " and ", g_unl.sizes());
  TORCH_CHECK(std::isfinite(lam) && lam >= 0 && lam <= 1, kName, ": lam must be in [0, 1], got ", lam);
  const auto log_phi_mixed = torch::log_sigmoid(losses::detail::to_compute_dtype(g_mixed));
  const auto log_phi_u = torch::log_sigmoid(losses::detail::to_compute_dtype(g_unl));
  // log(lam Phi_u + 1 - lam) without leaving log space, so that Phi_u near 0 loses nothing; the
  // ends are exact (lam 1: log Phi_u; lam 0: a pure positive, log 1).
  torch::Tensor log_target;
  if (lam >= 1) {
    log_target = log_phi_u;
  } else if (lam <= 0) {
    log_target = torch::zeros_like(log_phi_u);
  } else {
    log_target = torch::logaddexp(log_phi_u + std::log(lam), torch::full_like(log_phi_u, std::log1p(-lam)));
  }
  return (log_target - log_phi_mixed).pow(2).mean();
}

}  // namespace selfsup::functional
