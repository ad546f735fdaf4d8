#include "selfsup/losses/pu.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace {

namespace D = losses::detail;

void check_scores(const torch::Tensor& g, const char* fn, const char* name) {
  TORCH_CHECK(g.defined() && g.dim() == 1 && g.size(0) >= 1, fn, ": ", name,
              " must be a 1-D tensor of scores [N] with N >= 1, got shape ",
              g.defined() ? g.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(g.is_floating_point(), fn, ": ", name, " must be floating-point, got dtype ", g.scalar_type());
}

void check_pu_inputs(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior, const char* fn) {
  check_scores(g_pos, fn, "g_pos");
  check_scores(g_unl, fn, "g_unl");
  TORCH_CHECK(g_pos.device() == g_unl.device(), fn, ": g_pos and g_unl must be on the same device, got ",
              g_pos.device(), " and ", g_unl.device());
  TORCH_CHECK(std::isfinite(prior) && prior > 0 && prior < 1, fn, ": prior must be in (0, 1), got ", prior);
}

// The three terms without any branch: what uPU returns and what nnPU decides on.
PuRisk unbiased_terms(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior, PuLoss loss) {
  const auto p = D::to_compute_dtype(g_pos), u = D::to_compute_dtype(g_unl);
  PuRisk r;
  r.positive_risk = prior * pu_margin_loss(p, loss).mean();
  r.negative_risk = pu_margin_loss(-u, loss).mean() - prior * pu_margin_loss(-p, loss).mean();
  r.risk = r.positive_risk + r.negative_risk;
  r.surrogate = r.risk;
  return r;
}

}  // namespace

PuLoss pu_loss_from_name(const std::string& name, const std::string& key) {
  if (name == "sigmoid") return PuLoss::kSigmoid;
  if (name == "logistic") return PuLoss::kLogistic;
  TORCH_CHECK(false, key, " must be sigmoid or logistic, got '", name, "'");
}

const char* pu_loss_name(PuLoss loss) { return loss == PuLoss::kSigmoid ? "sigmoid" : "logistic"; }

torch::Tensor pu_margin_loss(const torch::Tensor& z, PuLoss loss) {
  return loss == PuLoss::kSigmoid ? torch::sigmoid(-z) : torch::nn::functional::softplus(-z);
}

PuRisk upu_risk(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior, PuLoss loss) {
  check_pu_inputs(g_pos, g_unl, prior, "upu_risk");
  return unbiased_terms(g_pos, g_unl, prior, loss);
}

PuRisk nnpu_risk(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior, const NnpuOptions& options) {
  constexpr const char* kName = "nnpu_risk";
  check_pu_inputs(g_pos, g_unl, prior, kName);
  D::check_non_negative(options.beta(), kName, "beta");
  D::check_non_negative(options.gamma(), kName, "gamma");
  PuRisk r = unbiased_terms(g_pos, g_unl, prior, options.loss());
  // The branch is taken on the batch's value, as in the reference code: the step either descends
  // on the whole risk or only pushes the negative risk back up, never both.
  if (r.negative_risk.item<double>() < -options.beta()) {
    r.ascent = true;
    r.risk = r.positive_risk - options.beta();
    r.surrogate = -options.gamma() * r.negative_risk;
  }
  return r;
}

}  // namespace selfsup::functional
