#include "selfsup/losses/vat.h"

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace {

constexpr const char* kVat = "vat";
namespace D = losses::detail;

void check_vat_options(const VATOptions& o) {
  D::check_positive(o.xi(), kVat, "xi");
  D::check_positive(o.eps(), kVat, "eps");
  TORCH_CHECK(o.iterations() >= 1, kVat, ": iterations must be >= 1, got ", o.iterations());
}

void check_input(const torch::Tensor& x, const char* fn) {
  TORCH_CHECK(x.defined() && x.dim() >= 2, fn,
              ": x must be a batch [N, ...] of rank >= 2, got shape ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(x.is_floating_point(), fn, ": x must be floating-point, got dtype ",
              x.scalar_type());
}

void check_logits_pair(const torch::Tensor& target, const torch::Tensor& logits, const char* fn,
                       const char* target_name, const char* logits_name) {
  D::check_matrix(target, fn, target_name, /*min_rows=*/1);
  D::check_matrix(logits, fn, logits_name, /*min_rows=*/1);
  TORCH_CHECK(target.sizes() == logits.sizes(), fn, ": ", target_name, " and ", logits_name,
              " must have the same shape, got ", target.sizes(), " and ", logits.sizes());
}

}  // namespace

torch::Tensor normalize_per_sample(const torch::Tensor& x) {
  check_input(x, "normalize_per_sample");
  namespace F = torch::nn::functional;
  // F.normalize on the flattened samples: x_i / max(||x_i||, 1e-12).
  return F::normalize(x.flatten(1), F::NormalizeFuncOptions().p(2).dim(1)).reshape(x.sizes());
}

torch::Tensor kl_div_from_logits(const torch::Tensor& target_logits,
                                 const torch::Tensor& logits) {
  check_logits_pair(target_logits, logits, "kl_div_from_logits", "target_logits", "logits");
  const torch::Tensor log_q = torch::log_softmax(D::to_compute_dtype(logits), 1);
  const torch::Tensor log_p =
      torch::log_softmax(D::to_compute_dtype(target_logits.detach()), 1).to(log_q.device(),
                                                                             log_q.scalar_type());
  return (log_p.exp() * (log_p - log_q)).sum(1).mean();
}

torch::Tensor entropy_loss(const torch::Tensor& logits) {
  D::check_matrix(logits, "entropy_loss", "logits", /*min_rows=*/1);
  const torch::Tensor log_p = torch::log_softmax(D::to_compute_dtype(logits), 1);
  return -(log_p.exp() * log_p).sum(1).mean();
}

torch::Tensor vat_perturbation(const LogitsFn& model, const torch::Tensor& x,
                               const torch::Tensor& clean_logits, const VATOptions& options,
                               torch::Generator& gen) {
  constexpr const char* kFn = "vat_perturbation";
  check_vat_options(options);
  check_input(x, kFn);
  D::check_matrix(clean_logits, kFn, "clean_logits", /*min_rows=*/1);
  TORCH_CHECK(clean_logits.size(0) == x.size(0), kFn,
              ": clean_logits must have one row per sample of x ", x.sizes(), ", got ",
              clean_logits.sizes());
  const torch::Tensor clean = clean_logits.detach();
  const torch::Tensor input = x.detach();
  // Drawn in float32 (float64 for float64 inputs), then cast: randn is not defined for every
  // reduced-precision dtype on every device.
  const auto draw_dtype = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  torch::Tensor d = normalize_per_sample(
      torch::randn(x.sizes(), gen, torch::TensorOptions().dtype(draw_dtype).device(gen.device()))
          .to(x.device(), x.scalar_type()));
  // The iteration needs autograd even when the caller runs under NoGradGuard.
  torch::AutoGradMode grad_mode(true);
  for (int64_t k = 0; k < options.iterations(); ++k) {
    // Only r requires grad: autograd::grad computes d KL / d r and nothing is accumulated into
    // the parameters' .grad (USB calls backward() and then zero_grad() instead).
    torch::Tensor r = (d * options.xi()).requires_grad_(true);
    const torch::Tensor perturbed = model(input + r);
    check_logits_pair(clean, perturbed, kFn, "clean_logits", "model(x + r)");
    const torch::Tensor kl = kl_div_from_logits(clean, perturbed);
    const torch::Tensor g =
        kl.requires_grad()
            ? torch::autograd::grad({kl}, {r}, /*grad_outputs=*/{}, /*retain_graph=*/c10::nullopt,
                                    /*create_graph=*/false, /*allow_unused=*/true)[0]
            : torch::Tensor();
    // A model that ignores its input gives no gradient: no direction, r_adv = 0.
    d = g.defined() ? normalize_per_sample(g.detach()) : torch::zeros_like(d);
  }
  return (d * options.eps()).detach();
}

torch::Tensor vat_loss(const LogitsFn& model, const torch::Tensor& x,
                       const torch::Tensor& clean_logits, const VATOptions& options,
                       torch::Generator& gen) {
  const torch::Tensor r_adv = vat_perturbation(model, x, clean_logits, options, gen);
  const torch::Tensor perturbed = model(x.detach() + r_adv);
  check_logits_pair(clean_logits, perturbed, "vat_loss", "clean_logits", "model(x + r_adv)");
  return kl_div_from_logits(clean_logits, perturbed);
}

}  // namespace selfsup::functional
