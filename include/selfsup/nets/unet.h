#pragma once
// The denoising U-Net of Noise2Noise (Lehtinen et al. 2018) and Neighbor2Neighbor (Huang et al.
// 2021): a stack of 3x3 convolutions with 2x2 max-pooling, nearest-neighbour upsampling and skip
// connections by concatenation, LeakyReLU(0.1), no normalisation, a linear last convolution.
// Width and depth are options: the papers use 48 channels and 5 poolings, which a CPU trains too
// slowly; the configs in configs/denoise/ say what they use.
#include <torch/nn.h>

#include <cstdint>

namespace selfsup::nets {

struct UNetOptions {
  explicit UNetOptions(int64_t channels = 1) : in_channels_(channels), out_channels_(channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  /// Channels of every encoder level; the decoder has twice as many.
  TORCH_ARG(int64_t, width) = 48;
  /// 2x2 poolings: images are padded (by reflection) to a multiple of 2^depth.
  TORCH_ARG(int64_t, depth) = 5;
  TORCH_ARG(double, negative_slope) = 0.1;
};

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(UNetOptions options);
  /// [B, in_channels, H, W] -> [B, out_channels, H, W], any H, W of at least min_size(): the input
  /// is padded to a multiple of 2^depth by reflection and the output cropped back.
  torch::Tensor forward(const torch::Tensor& x);
  /// The smallest side an input may have (2^depth: the reflection padding needs one pixel per
  /// padded one, and the deepest level one pixel).
  int64_t min_size() const { return int64_t{1} << options.depth(); }
  /// The side of the square of input pixels one output pixel depends on.
  int64_t receptive_field() const;
  /// Multiply-accumulates of the convolutions for one image of the given size.
  double forward_macs(int64_t height, int64_t width) const;

  UNetOptions options;
  torch::nn::ModuleList encoder{nullptr};   // conv0, conv1, then one per deeper level and the bottom
  torch::nn::ModuleList decoder{nullptr};   // two per level, deepest first, then the three last ones
};
TORCH_MODULE(UNet);

}  // namespace selfsup::nets
