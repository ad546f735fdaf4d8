#include "selfsup/losses/mixup.h"

#include <algorithm>

#include "selfsup/losses/common.h"

namespace selfsup::functional {
namespace {

constexpr const char* kMixup = "mixup";

void check_cpu_generator(const torch::Generator& gen, const char* fn) {
  TORCH_CHECK(gen.defined() && gen.device().is_cpu(), fn,
              ": gen must be a CPU generator, got one on ",
              gen.defined() ? gen.device().str() : std::string("(undefined)"));
}

}  // namespace

double sample_beta(double a, torch::Generator& gen) {
  losses::detail::check_positive(a, "sample_beta", "a");
  check_cpu_generator(gen, "sample_beta");
  const torch::Tensor g = at::_standard_gamma(torch::full({2}, a, torch::kFloat64), gen);
  const double g1 = g[0].item<double>(), g2 = g[1].item<double>();
  // Both draws can underflow to 0 for tiny a; Beta(a, a) is then (nearly) a fair coin on {0, 1}.
  return g1 + g2 > 0 ? g1 / (g1 + g2) : 0.5;
}

MixUpOutput mixup(const torch::Tensor& x, const torch::Tensor& y, const MixUpOptions& options,
                  torch::Generator& gen) {
  losses::detail::check_non_negative(options.alpha(), kMixup, "alpha");
  check_cpu_generator(gen, kMixup);
  TORCH_CHECK(x.defined() && x.dim() >= 1 && x.size(0) >= 1, kMixup,
              ": x must be a batch [N, ...] with N >= 1, got shape ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(y.defined() && y.dim() >= 1 && y.size(0) == x.size(0), kMixup,
              ": y must have one row per sample of x (", x.size(0), "), got shape ",
              y.defined() ? y.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(x.is_floating_point() && y.is_floating_point(), kMixup,
              ": x and y must be floating-point (y as soft targets), got dtypes ",
              x.scalar_type(), " and ", y.scalar_type());
  TORCH_CHECK(x.device() == y.device(), kMixup, ": x and y must be on the same device, got ",
              x.device(), " and ", y.device());
  MixUpOutput out;
  const double lam = options.alpha() > 0 ? sample_beta(options.alpha(), gen) : 1.0;
  out.lam = options.bias_to_first() ? std::max(lam, 1.0 - lam) : lam;
  out.permutation = torch::randperm(x.size(0), gen, torch::kLong);
  const torch::Tensor perm = out.permutation.to(x.device());
  out.inputs = x * out.lam + x.index_select(0, perm) * (1.0 - out.lam);
  out.targets = y * out.lam + y.index_select(0, perm) * (1.0 - out.lam);
  return out;
}

}  // namespace selfsup::functional
