#pragma once
// The masked-autoencoder reconstruction loss (He et al. 2021): mean squared error per patch,
// averaged over the masked patches only,
//
//   L = sum_{n,l} mask_{n,l} e_{n,l} / sum_{n,l} mask_{n,l},  e_{n,l} = (1/P) sum_p (pred - target)_{n,l,p}^2
//
// With norm_pix each target patch is first standardised by its own mean and unbiased variance,
// (t - mean) / sqrt(var + eps), eps 1e-6, as the reference code does (torch.var's default N - 1).
// The visible patches carry no loss: the encoder saw them, so predicting them is copying.
#include <torch/torch.h>

namespace selfsup::losses {

struct MaeLossOptions {
  /// Standardise each target patch before comparing (the paper's better-fine-tuning variant).
  TORCH_ARG(bool, norm_pix) = true;
  /// Added (> 0) to the unbiased variance of each target patch.
  TORCH_ARG(double, eps) = 1e-6;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::MaeLossOptions;

/// pred and target [N, L, P] (P pixels per patch, P >= 2 with norm_pix), mask [N, L] with 1 for
/// a masked patch and 0 for a visible one; at least one patch must be masked. Scalar, float32 for
/// reduced-precision inputs.
torch::Tensor mae_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask,
                       const MaeLossOptions& options = {});

/// The target mae_loss compares with: `target`, standardised per patch when norm_pix is set.
torch::Tensor mae_target(const torch::Tensor& target, const MaeLossOptions& options = {});

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::mae_loss.
class MaeLossImpl : public torch::nn::Cloneable<MaeLossImpl> {
 public:
  explicit MaeLossImpl(MaeLossOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask);

  MaeLossOptions options;
};
TORCH_MODULE(MaeLoss);

}  // namespace selfsup::losses
