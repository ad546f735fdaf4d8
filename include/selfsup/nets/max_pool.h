#pragma once
// The ConvNet's 2x2 max-pool with stride 2 (floor mode) between stages, as a layer.
#include <torch/torch.h>

#include "selfsup/nets/kernels.h"

namespace selfsup::nets {

/// Module form of functional::max_pool2x2 (no parameters).
class MaxPool2x2Impl : public torch::nn::Cloneable<MaxPool2x2Impl> {
 public:
  MaxPool2x2Impl() = default;
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return functional::max_pool2x2(x); }
  void pretty_print(std::ostream& stream) const override { stream << "selfsup::nets::MaxPool2x2()"; }
};
TORCH_MODULE(MaxPool2x2);

}  // namespace selfsup::nets
