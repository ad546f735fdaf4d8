#pragma once
// Seeded, reproducible index splits of a labeled training set. Every function takes int64 labels
// [N] on any device and returns sorted int64 index tensors on the same device.
#include <torch/types.h>

#include <cstdint>

namespace selfsup::data {

struct LabeledSplit {
  torch::Tensor labeled, unlabeled;
};
/// Exactly `per_class` labeled examples of every class that occurs; the rest are unlabeled.
LabeledSplit labeled_subset(const torch::Tensor& labels, int64_t per_class, uint64_t seed);

struct TrainValSplit {
  torch::Tensor train, val;
};
/// Exactly `val_per_class` validation examples of every class that occurs; the rest train.
TrainValSplit validation_split(const torch::Tensor& labels, int64_t val_per_class, uint64_t seed);

struct SemiSplit {
  torch::Tensor labeled, unlabeled, val;
};
/// A semi-supervised run's split: first `val_per_class` validation examples of every class, which
/// neither training stream ever sees, then `per_class` labeled examples of every class among the
/// rest; everything else is unlabeled. Indices into `labels`; each part from its own stream of
/// `seed`.
SemiSplit semi_split(const torch::Tensor& labels, int64_t per_class, int64_t val_per_class, uint64_t seed);

}  // namespace selfsup::data
