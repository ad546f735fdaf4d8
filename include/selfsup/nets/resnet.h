#pragma once
// ResNet-18 / ResNet-34 (BasicBlock) encoders. Parameter names follow torchvision (conv1, bn1,
// layer1.0.conv1, layer1.0.downsample.0, ...), so exported weights load into a torchvision ResNet
// whose fc is dropped (and, with the CIFAR stem, whose conv1 is 3x3 and maxpool removed, as
// solo-learn does).
#include <torch/nn.h>

#include "selfsup/nets/backbone.h"
#include "selfsup/nets/batchnorm.h"

namespace selfsup::nets {

struct BasicBlockOptions {
  BasicBlockOptions(int64_t in_planes, int64_t planes) : in_planes_(in_planes), planes_(planes) {}
  TORCH_ARG(int64_t, in_planes);
  TORCH_ARG(int64_t, planes);
  TORCH_ARG(int64_t, stride) = 1;
  /// Width inside the block (conv1's filters, conv2's inputs); 0: planes. A thinned block's.
  TORCH_ARG(int64_t, mid_planes) = 0;
};

/// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is a 1x1 conv + BN when the
/// stride or the width changes.
class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  explicit BasicBlockImpl(BasicBlockOptions options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x);
  /// Multiply-accumulates for an input of height x width; also returns the output size.
  double forward_flops(int64_t& height, int64_t& width) const;

  BasicBlockOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // null when the shortcut is the identity
};
TORCH_MODULE(BasicBlock);

struct ResNetOptions {
  /// depth: 18 or 34.
  ResNetOptions(int64_t depth, int64_t in_channels) : depth_(depth), in_channels_(in_channels) {}
  TORCH_ARG(int64_t, depth);
  TORCH_ARG(int64_t, in_channels);
  /// Width multiplier: stage widths are 64, 128, 256, 512 times width (rounded, at least 1).
  TORCH_ARG(double, width) = 1.0;
  /// 3x3 stride-1 stem without max-pool (small images) instead of 7x7 stride 2 + max-pool.
  TORCH_ARG(bool, cifar_stem) = true;
  /// Zero-initialise the last BN of each block so every block starts as the identity.
  TORCH_ARG(bool, zero_init_residual) = false;
  /// Per block in order (8 for ResNet-18, 16 for ResNet-34), its inner width (conv1's filters);
  /// empty: each block's stage width. Thinning removes inner channels only, as the block outputs
  /// are tied together by the residual sums.
  TORCH_ARG(std::vector<int64_t>, mid_widths) = {};
};

class ResNetImpl : public BackboneBase<ResNetImpl, ResNetOptions> {
 public:
  explicit ResNetImpl(ResNetOptions options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return feature_dim_; }
  double forward_flops(int64_t height, int64_t width) const override;
  std::vector<std::pair<std::string, int64_t>> conv_positions(int64_t height, int64_t width) const override;
  void pretty_print(std::ostream& stream) const override;

  torch::nn::Conv2d conv1{nullptr};
  BatchNorm bn1{nullptr};
  std::vector<torch::nn::Sequential> layers;  // registered as layer1 ... layer4

 private:
  int64_t feature_dim_ = 0;
};
TORCH_MODULE(ResNet);

}  // namespace selfsup::nets
