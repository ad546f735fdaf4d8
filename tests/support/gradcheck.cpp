#include "support/gradcheck.h"

namespace selfsup::testing {

GradCheckResult gradcheck(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& f,
                          std::vector<torch::Tensor> inputs, double eps, double atol, double rtol) {
  for (auto& x : inputs) {
    TORCH_CHECK(x.scalar_type() == torch::kFloat64, "gradcheck needs float64 inputs");
  }
  torch::Tensor out0 = f(inputs);
  auto gen = at::detail::createCPUGenerator(1234);
  torch::Tensor w = torch::rand(out0.sizes(), gen, torch::dtype(torch::kFloat64)) + 0.5;
  auto scalar = [&](const std::vector<torch::Tensor>& in) { return (f(in) * w).sum(); };

  for (auto& x : inputs) {
    if (x.requires_grad() && x.grad().defined()) x.mutable_grad().zero_();
  }
  scalar(inputs).backward();

  GradCheckResult r;
  r.ok = true;
  torch::NoGradGuard no_grad;
  for (auto& x : inputs) {
    if (!x.requires_grad()) continue;
    torch::Tensor analytic = x.grad().contiguous().view(-1);
    torch::Tensor flat = x.view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double orig = flat[i].item<double>();
      flat[i] = orig + eps;
      const double up = scalar(inputs).item<double>();
      flat[i] = orig - eps;
      const double down = scalar(inputs).item<double>();
      flat[i] = orig;
      const double numeric = (up - down) / (2 * eps);
      const double a = analytic[i].item<double>();
      const double err = std::abs(numeric - a);
      r.max_abs_error = std::max(r.max_abs_error, err);
      r.max_rel_error = std::max(r.max_rel_error, err / std::max(1e-12, std::abs(numeric)));
      if (err > atol + rtol * std::abs(numeric)) r.ok = false;
    }
  }
  return r;
}

}  // namespace selfsup::testing
