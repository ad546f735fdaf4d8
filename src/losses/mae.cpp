#include "selfsup/losses/mae.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kMae = "mae_loss";
namespace D = losses::detail;

void check_mae_options(const losses::MaeLossOptions& options) { D::check_positive(options.eps(), kMae, "eps"); }

void check_patches(const torch::Tensor& x, const char* name) {
  TORCH_CHECK(x.defined() && x.dim() == 3 && x.is_floating_point() && x.size(0) > 0 && x.size(1) > 0 && x.size(2) > 0,
              kMae, ": ", name, " must be floating-point patches [N, L, P], got ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
}

}  // namespace

namespace functional {

torch::Tensor mae_target(const torch::Tensor& target, const MaeLossOptions& options) {
  check_patches(target, "target");
  check_mae_options(options);
  auto t = D::to_compute_dtype(target);
  if (!options.norm_pix()) return t;
  TORCH_CHECK(t.size(2) >= 2, kMae, ": norm_pix needs at least 2 pixels per patch for the unbiased variance, got ",
              t.size(2));
  const auto mean = t.mean(-1, /*keepdim=*/true);
  const auto var = t.var(torch::IntArrayRef{-1}, /*unbiased=*/true, /*keepdim=*/true);
  return (t - mean) / (var + options.eps()).sqrt();
}

torch::Tensor mae_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask,
                       const MaeLossOptions& options) {
  check_patches(pred, "pred");
  check_patches(target, "target");
  TORCH_CHECK(pred.sizes() == target.sizes(), kMae, ": pred ", pred.sizes(), " and target ", target.sizes(),
              " must have the same shape");
  TORCH_CHECK(pred.device() == target.device(), kMae, ": pred is on ", pred.device(), ", target on ", target.device());
  TORCH_CHECK(mask.defined() && mask.dim() == 2 && mask.size(0) == pred.size(0) && mask.size(1) == pred.size(1), kMae,
              ": mask must be [N, L] = [", pred.size(0), ", ", pred.size(1), "], got ",
              mask.defined() ? mask.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(mask.device() == pred.device(), kMae, ": mask is on ", mask.device(), ", pred on ", pred.device());
  const auto p = D::to_compute_dtype(pred);
  const auto m = mask.to(p.scalar_type());
  const auto masked = m.sum();
  // One read back: a batch with nothing masked has no loss to average, and would divide by zero.
  TORCH_CHECK(masked.item<double>() > 0, kMae, ": mask has no masked patch (every entry is 0)");
  const auto per_patch = (p - mae_target(target, options)).pow(2).mean(-1);
  return (per_patch * m).sum() / masked;
}

}  // namespace functional

namespace losses {

MaeLossImpl::MaeLossImpl(MaeLossOptions options_) : options(options_) { reset(); }

void MaeLossImpl::reset() { check_mae_options(options); }

void MaeLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::MaeLoss(norm_pix=" << (options.norm_pix() ? "true" : "false") << ", eps=" << options.eps()
         << ")";
}

torch::Tensor MaeLossImpl::forward(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask) {
  return functional::mae_loss(pred, target, mask, options);
}

}  // namespace losses
}  // namespace selfsup
