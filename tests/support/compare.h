#pragma once
// How far apart two tensors are, in float64 whatever their dtype.
#include <torch/torch.h>

namespace selfsup::testing {

/// max |a - b| over all elements.
inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace selfsup::testing
