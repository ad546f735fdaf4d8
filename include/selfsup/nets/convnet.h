#pragma once
// A small VGG-style encoder for 28x28 / 32x32 images that trains quickly on a CPU.
#include <torch/nn.h>

#include <vector>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

struct ConvNetOptions {
  explicit ConvNetOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);
  /// Width of each stage; a 2x2 max-pool separates consecutive stages.
  TORCH_ARG(std::vector<int64_t>, channels) = {32, 64, 128};
  /// [conv3x3 - BN - ReLU] blocks per stage.
  TORCH_ARG(int64_t, blocks_per_stage) = 1;
};

/// Stages of [conv3x3 - BN - ReLU] x blocks_per_stage, max-pool between stages, global average
/// pooling: feature_dim() == channels.back(). Works for any image of at least
/// 2^(stages - 1) pixels a side. Layers live in `features` (an nn.Sequential, so the parameter
/// names match a PyTorch nn.Sequential of the same layers).
class ConvNetImpl : public BackboneBase<ConvNetImpl, ConvNetOptions> {
 public:
  explicit ConvNetImpl(ConvNetOptions options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return options.channels().back(); }
  double forward_flops(int64_t height, int64_t width) const override;
  std::vector<std::pair<std::string, int64_t>> conv_positions(int64_t height, int64_t width) const override;
  void pretty_print(std::ostream& stream) const override;

  torch::nn::Sequential features{nullptr};
};
TORCH_MODULE(ConvNet);

}  // namespace selfsup::nets
