#pragma once
// Fully connected encoder (permutation-invariant MNIST baselines, VAT, PU learning).
#include <torch/nn.h>

#include <vector>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

struct MLPBackboneOptions {
  /// in_features = C * H * W of the images.
  explicit MLPBackboneOptions(int64_t in_features) : in_features_(in_features) {}
  MLPBackboneOptions(int64_t in_channels, int64_t image_size)
      : in_features_(in_channels * image_size * image_size) {}
  TORCH_ARG(int64_t, in_features);
  /// Widths of the hidden layers; the last one is feature_dim().
  TORCH_ARG(std::vector<int64_t>, hidden) = {512, 512};
  /// BatchNorm1d after each Linear (whose bias is then dropped).
  TORCH_ARG(bool, batch_norm) = true;
};

/// flatten -> [Linear (- BN) - ReLU] per hidden width. Accepts any input whose trailing
/// dimensions hold in_features values, e.g. [B, C, H, W] or [B, F].
class MLPBackboneImpl : public BackboneBase<MLPBackboneImpl, MLPBackboneOptions> {
 public:
  explicit MLPBackboneImpl(MLPBackboneOptions options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return options.hidden().back(); }
  /// The image size does not matter: in_features is fixed.
  double forward_flops(int64_t height, int64_t width) const override;
  void pretty_print(std::ostream& stream) const override;

  torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(MLPBackbone);

}  // namespace selfsup::nets
