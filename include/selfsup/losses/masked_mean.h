#pragma once
// The reduction shared by the confidence-masked semi-supervised losses (Pseudo-Label, FixMatch,
// FlexMatch, UDA). With per-sample losses l_i and a mask m_i in [0, 1] (1 = pseudo-label accepted):
//
//   batch:     L = sum_i m_i l_i / N                        (USB, TorchSSL, the FixMatch paper)
//   accepted:  L = sum_i m_i l_i / sum_i m_i                (0 when nothing is accepted)
//
// Dividing by the whole unlabeled batch N lets the loss and its gradient grow with the mask rate:
// early in training, when few pseudo-labels pass the threshold, the unlabeled term is small on
// its own (a built-in warm-up), and every published number uses it, so it is the default.
// Dividing by the accepted count gives each accepted sample the same weight whatever the mask
// rate: one confident sample in a batch is pushed as hard as a batch full of them. Either way a
// batch with no accepted sample gives 0 with a zero gradient (never 0 / 0). The mask is treated
// as a constant (detached).
#include <torch/torch.h>

#include <string>

namespace selfsup::losses {

enum class MaskedMean { kBatch, kAccepted };

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::MaskedMean;

/// "batch" -> kBatch, "accepted" -> kAccepted (a config value); anything else throws, naming
/// `what` (the config key) and the value received.
MaskedMean parse_masked_mean(const std::string& name, const std::string& what = "masked_mean");

/// The config spelling of `mean`: "batch" or "accepted".
const char* masked_mean_name(MaskedMean mean);

/// sum_i mask_i per_sample_i / D, D = N (kBatch) or sum_i mask_i (kAccepted); per_sample [N]
/// floating-point (N >= 1), mask [N] (bool or real, detached here) on the same device: a scalar.
torch::Tensor masked_mean(const torch::Tensor& per_sample, const torch::Tensor& mask,
                          MaskedMean mean = MaskedMean::kBatch);

}  // namespace selfsup::functional
