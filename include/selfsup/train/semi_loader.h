#pragma once
// Batches for semi-supervised training: B labeled images (one or more views, e.g. weak) and
// mu * B unlabeled images (e.g. weak + strong), each stream with its own seeded order and
// augmentation, so a batch is still a pure function of (seed, step) and resuming is exact.
#include "selfsup/train/loader.h"

#include <optional>

namespace selfsup::train {

struct SemiLoaderOptions {
  TORCH_ARG(int64_t, batch_size) = 64;  // labeled images per step
  TORCH_ARG(int64_t, mu) = 7;           // unlabeled images per labeled image; 0: no unlabeled stream
  TORCH_ARG(uint64_t, seed) = 0;
};

class SemiLoader : public BatchSource {
 public:
  /// A labeled set smaller than a batch (10 labels per class, batch 64) is repeated until it
  /// fills one: every epoch of the labeled stream is a fresh permutation of the repeated set,
  /// which is how USB's sampler with replacement behaves in expectation.
  SemiLoader(const data::Dataset& labeled, const data::Dataset& unlabeled, augment::ViewSet labeled_views,
             augment::ViewSet unlabeled_views, const Normalization& norm, SemiLoaderOptions options,
             torch::Device device);

  /// Epochs are counted over the unlabeled set (over the labeled one when mu is 0).
  int64_t steps_per_epoch() const override { return unlabeled_ ? unlabeled_->steps_per_epoch() : labeled_.steps_per_epoch(); }
  int64_t dataset_size() const override { return unlabeled_ ? unlabeled_->dataset_size() : labeled_.dataset_size(); }
  methods::Batch get(int64_t step) override;

 private:
  ViewLoader labeled_;
  std::optional<ViewLoader> unlabeled_;  // absent when mu is 0 (the supervised baseline)
};

}  // namespace selfsup::train
