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
  /// Data parallelism: both batches are global, each rank keeps its share of each (LoaderOptions).
  TORCH_ARG(int, rank) = 0;
  TORCH_ARG(int, world_size) = 1;
};

/// The augmentation named `name` ("weak" or "strong"): augment.<name> when the config gives a
/// pipeline, else the preset of that name for these images. Normalisation is the loader's.
augment::Pipeline semi_view_from_config(const Config& cfg, const std::string& name, int64_t image_size,
                                        int64_t channels);

struct SemiViews {
  augment::ViewSet labeled, unlabeled;
};
/// The labeled batch's weak view and the unlabeled views a method asks for by name
/// (SemiMethodImpl::unlabeled_views), each from semi_view_from_config.
SemiViews semi_views_from_config(const Config& cfg, const std::vector<std::string>& unlabeled_names,
                                 int64_t image_size, int64_t channels);

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
