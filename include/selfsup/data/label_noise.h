#pragma once
// Synthetic label noise on a labeled set, the protocol of the learning-with-noisy-labels papers
// (co-teaching, Han et al. 2018): every label is corrupted independently with probability `rate`,
//   symmetric: to one of the other C - 1 classes, uniformly (transition matrix 1 - rate on the
//              diagonal, rate / (C - 1) elsewhere);
//   pairflip:  to the next class, (y + 1) mod C (1 - rate on the diagonal, rate just above it).
// The draw is a pure function of (labels, seed), so every method of a comparison sees the same
// noisy labels. Some papers (DivideMix) draw symmetric noise over all C classes, the true one
// included: their rate r is this one's r (C - 1) / C.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace selfsup::data {

enum class LabelNoise { kNone, kSymmetric, kPairFlip };

/// "none", "symmetric" or "pairflip"; anything else is an error naming data.label_noise.
LabelNoise label_noise_from_name(const std::string& name);
const char* label_noise_name(LabelNoise noise);

struct LabelNoiseOptions {
  TORCH_ARG(LabelNoise, type) = LabelNoise::kNone;
  /// Probability that a label is corrupted, in [0, 1).
  TORCH_ARG(double, rate) = 0.0;
  TORCH_ARG(uint64_t, seed) = 0;
};

/// The noisy labels of int64 `labels` [N] with values in [0, num_classes) (same device and
/// dtype). A rate of 0 or type none returns the labels unchanged.
torch::Tensor corrupt_labels(const torch::Tensor& labels, int64_t num_classes, const LabelNoiseOptions& options);

}  // namespace selfsup::data
