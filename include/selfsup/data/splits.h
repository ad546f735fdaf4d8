#pragma once
// Seeded, reproducible index splits of a labeled training set. Every function takes int64 labels
// [N] on any device and returns sorted int64 index tensors on the same device.
#include <torch/types.h>

#include <cstdint>
#include <vector>

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

struct PUSplit {
  torch::Tensor labeled;    // indices of the labeled positives
  torch::Tensor unlabeled;  // all other indices (positives and negatives)
  torch::Tensor targets;    // int64 [N]: 1 labeled positive, 0 unlabeled
  double prior = 0;         // share of positives among the unlabeled
};
/// Draws `n_labeled` labeled examples among those whose class is in `positive_classes`.
PUSplit pu_split(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes,
                 int64_t n_labeled, uint64_t seed);

/// int64 [N]: 1 where the label is one of `positive_classes`, else 0.
torch::Tensor binary_labels(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes);

}  // namespace selfsup::data
