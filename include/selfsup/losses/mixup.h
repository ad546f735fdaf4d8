#pragma once
// MixUp as MixMatch uses it (Berthelot et al. 2019, Eq. 8-11; USB's mixup_one_target with
// is_bias=True): one lam ~ Beta(alpha, alpha) per batch, a random partner for every sample,
//
//   lam' = max(lam, 1 - lam),   x' = lam' x + (1 - lam') x[perm],   y' = lam' y + (1 - lam') y[perm]
//
// lam' >= 1/2 keeps every mixed sample closer to its own input than to its partner, so the
// labeled and unlabeled parts of MixMatch's mixed batch stay labeled-like and unlabeled-like
// (their losses are computed separately). bias_to_first(false) gives plain mixup (lam' = lam);
// alpha = 0 means no mixing (lam' = 1), as in USB. Beta is drawn as G1 / (G1 + G2) from two
// Gamma(alpha, 1) draws. lam and the permutation come from a CPU generator, so a seed gives the
// same batch on every device.
#include <torch/torch.h>

namespace selfsup::losses {

struct MixUpOptions {
  /// Beta(alpha, alpha) concentration (>= 0): 0.75 in MixMatch; 0 disables mixing.
  TORCH_ARG(double, alpha) = 0.75;
  /// lam' = max(lam, 1 - lam) (MixMatch) instead of lam.
  TORCH_ARG(bool, bias_to_first) = true;
};

struct MixUpOutput {
  torch::Tensor inputs;       ///< like x
  torch::Tensor targets;      ///< like y
  double lam = 1.0;           ///< the lam' used: in [0.5, 1] with bias_to_first
  torch::Tensor permutation;  ///< int64 [N] (CPU): sample i was mixed with sample permutation[i]
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::MixUpOptions;
using losses::MixUpOutput;

/// Mixes x [N, ...] (N >= 1) and targets y [N, ...] (floating-point, e.g. soft labels [N, C],
/// same device) with one lam and one permutation drawn from the CPU generator gen.
MixUpOutput mixup(const torch::Tensor& x, const torch::Tensor& y, const MixUpOptions& options,
                  torch::Generator& gen);

/// One Beta(a, a) draw (a > 0) from the CPU generator gen.
double sample_beta(double a, torch::Generator& gen);

}  // namespace selfsup::functional
