#pragma once
// Seeded, reproducible index splits of a labeled training set. Every function takes int64 labels
// [N] on any device and returns sorted int64 index tensors on the same device.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
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

struct SemiSplit {
  torch::Tensor labeled, unlabeled, val;
};
/// A semi-supervised run's split: first `val_per_class` validation examples of every class, which
/// neither training stream ever sees, then `per_class` labeled examples of every class among the
/// rest; everything else is unlabeled. Indices into `labels`; each part from its own stream of
/// `seed`.
SemiSplit semi_split(const torch::Tensor& labels, int64_t per_class, int64_t val_per_class, uint64_t seed);

/// Which images form the unlabeled set of a positive-unlabeled split.
enum class PuUnlabeled {
  kAll,   // every training image, the labeled positives included (nnPU's and VPU's setup)
  kRest,  // the training images that are not labeled positives
};
/// "all" or "rest"; anything else is an error naming data.unlabeled.
PuUnlabeled pu_unlabeled_from_name(const std::string& name);
const char* pu_unlabeled_name(PuUnlabeled u);

struct PuSplitOptions {
  /// The classes that make up the positive class; the others are negative.
  TORCH_ARG(std::vector<int64_t>, positive_classes) = std::vector<int64_t>{1, 4, 7};
  /// Labeled positives drawn from the training images (after the validation split).
  TORCH_ARG(int64_t, labeled) = 3000;
  TORCH_ARG(PuUnlabeled, unlabeled) = PuUnlabeled::kAll;
  /// Images of every class held out as the validation split.
  TORCH_ARG(int64_t, val_per_class) = 500;
  /// Labeled positives among the validation images; 0: the training split's share of them.
  TORCH_ARG(int64_t, val_labeled) = 0;
  TORCH_ARG(uint64_t, seed) = 0;
};

/// A positive-unlabeled split. The validation split is itself positive-unlabeled (VPU's design):
/// its labeled positives and its unlabeled images are what a method may calibrate or choose on
/// (Elkan-Noto's c, the prior estimates), while its true labels score it, as the test set's do.
struct PuSplit {
  torch::Tensor labeled, unlabeled;          // training: labeled positives, unlabeled images
  torch::Tensor val;                         // the validation split, every image
  torch::Tensor val_labeled, val_unlabeled;  // its labeled positives and its unlabeled images
};

/// First `val_per_class` images of every class are held out; then `labeled` positives are drawn
/// from the rest, and the unlabeled set is the rest (all of it, or the rest but those); the
/// validation split's labeled positives and unlabeled images are drawn the same way, so both
/// unlabeled sets have the same class prior. `num_classes` is the data set's. Every bad choice is
/// one error naming its data.* key: no positive class, one outside [0, num_classes) or named
/// twice, every class positive (no negatives), more labeled positives than the images hold.
PuSplit pu_split(const torch::Tensor& labels, int64_t num_classes, const PuSplitOptions& options);

/// 1 where the label is one of `positive_classes`, else 0 (int64, on the labels' device).
torch::Tensor positive_labels(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes);

}  // namespace selfsup::data
