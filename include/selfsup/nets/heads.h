#pragma once
// Projector / predictor heads of the self-supervised methods.
#include <torch/nn.h>

#include <cstdint>

namespace selfsup::nets {

struct MLPHeadOptions {
  MLPHeadOptions(int64_t in_dim, int64_t hidden_dim, int64_t out_dim)
      : in_dim_(in_dim), hidden_dim_(hidden_dim), out_dim_(out_dim) {}
  TORCH_ARG(int64_t, in_dim);
  TORCH_ARG(int64_t, hidden_dim);
  TORCH_ARG(int64_t, out_dim);
  /// Number of Linear layers, >= 1; 1 is a single Linear(in_dim, out_dim).
  TORCH_ARG(int64_t, num_layers) = 2;
  /// BatchNorm1d after each hidden Linear.
  TORCH_ARG(bool, batch_norm) = true;
  /// BatchNorm1d without affine on the output (SimSiam projector, Barlow Twins).
  TORCH_ARG(bool, last_batch_norm) = false;
  /// Bias of every Linear (solo-learn keeps it even before a BN).
  TORCH_ARG(bool, bias) = true;
};

/// [Linear - (BN) - ReLU] x (num_layers - 1), Linear, (BN without affine). The layers live in
/// `layers`, an nn.Sequential, so names match the equivalent PyTorch nn.Sequential.
class MLPHeadImpl : public torch::nn::Cloneable<MLPHeadImpl> {
 public:
  explicit MLPHeadImpl(MLPHeadOptions options);
  void reset() override;
  /// [B, in_dim] -> [B, out_dim].
  torch::Tensor forward(const torch::Tensor& x);
  /// Multiply-accumulates of the Linear layers for one sample.
  double forward_flops() const;
  void pretty_print(std::ostream& stream) const override;

  MLPHeadOptions options;
  torch::nn::Sequential layers{nullptr};
};
TORCH_MODULE(MLPHead);

}  // namespace selfsup::nets
