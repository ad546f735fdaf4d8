#pragma once
// Shared float64 finite-difference gradient checker (flashlight-style): every loss test uses it.
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace selfsup::testing {

struct GradCheckResult {
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  bool ok = false;
};

/// Compares autograd's gradient of sum(f(inputs) * w) (w a fixed random weighting, so that every
/// output element matters) with central differences, for every input that requires grad. Inputs
/// must be float64.
GradCheckResult gradcheck(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& f,
                          std::vector<torch::Tensor> inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace selfsup::testing
