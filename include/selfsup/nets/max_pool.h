#pragma once
// 2x2 max-pooling with stride 2 (floor mode), the ConvNet's pool between stages.
//
// Why not torch::max_pool2d: on a CPU, LibTorch 1.13's NCHW max-pool is a generic
// any-kernel loop that runs at ~2 GB/s; it took 17% of a SimCLR step on the ConvNet, more
// than the forward convolutions. The fixed 2x2 case here is a loop the compiler vectorises; it
// keeps no index (the backward finds each window's winner again from the input and the output),
// and its backward writes every input element once instead of zero-filling and scattering.
// Other devices, layouts and dtypes fall back to torch::max_pool2d, so results never depend on
// which path ran: same values, same NaN propagation, same tie rule (the first maximum in
// row-major order wins; with NaNs, the last NaN).
#include <torch/torch.h>

namespace selfsup {
namespace functional {

/// max_pool2d(x, kernel 2, stride 2) for x of shape [N, C, H, W]; output [N, C, H/2, W/2].
torch::Tensor max_pool2x2(const torch::Tensor& x);

}  // namespace functional

namespace nets {

/// Module form of functional::max_pool2x2 (no parameters).
class MaxPool2x2Impl : public torch::nn::Cloneable<MaxPool2x2Impl> {
 public:
  MaxPool2x2Impl() = default;
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& x) { return functional::max_pool2x2(x); }
  void pretty_print(std::ostream& stream) const override { stream << "selfsup::nets::MaxPool2x2()"; }
};
TORCH_MODULE(MaxPool2x2);

}  // namespace nets
}  // namespace selfsup
