#pragma once
// Shuffles, batches and augments in-memory images into Batches of V views. Every batch is a pure
// function of (seed, global step): the data order of epoch e comes from its own seeded
// permutation and the augmentation of step s from its own seeded generator. So resuming needs
// only the step counter, and a resumed run sees exactly the batches an uninterrupted one would.
#include <torch/torch.h>

#include <future>
#include <memory>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/method.h"

namespace selfsup::train {

struct LoaderOptions {
  TORCH_ARG(int64_t, batch_size) = 256;
  TORCH_ARG(bool, drop_last) = true;
  TORCH_ARG(bool, shuffle) = true;
  TORCH_ARG(uint64_t, seed) = 0;
  /// Prepare the next batch on a background thread while the current one trains.
  TORCH_ARG(bool, prefetch) = true;
  /// Intra-op threads of the background thread (the training thread keeps its own count).
  TORCH_ARG(int, prefetch_threads) = 1;
  /// Data parallelism: batch_size is the global batch; rank r of world_size keeps rows
  /// [r * b, (r + 1) * b) of it, b = batch_size / world_size. Every rank augments the global batch
  /// with the step's generator and keeps its rows, so a run's views (hence its result) do not
  /// depend on the number of processes; augmentation costs ~1% of a step here, and it is the
  /// price of that guarantee.
  TORCH_ARG(int, rank) = 0;
  TORCH_ARG(int, world_size) = 1;
};

/// Per-channel normalisation applied after augmentation (and by evaluation to clean images).
struct Normalization {
  std::vector<double> mean, std;
  /// Reads data.mean / data.std, or measures them on the training images when absent.
  static Normalization from_config(const Config& cfg, const torch::Tensor& train_images_u8);
  torch::Tensor apply(const torch::Tensor& x01) const;  // x in [0,1], [B,C,H,W]
};

/// The views a method trains on, from the config's `augment` section: either
///   augment: {pipeline: simclr}             (one description, repeated num_views times), or
///   augment: {views: [{name: a, pipeline: ...}, ...]}   (see augment/pipeline.h).
/// No section means the simclr preset. Normalisation is the data's (data.mean / data.std, see
/// Normalization), applied by the loader, so normalize ops in the section are dropped here.
augment::ViewSet views_from_config(const Config& cfg, int64_t channels, int64_t image_size, int64_t num_views);

/// Where the trainer gets its batches: a pure function of the global step, so a resumed run sees
/// exactly the batches an uninterrupted one would.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t steps_per_epoch() const = 0;
  virtual int64_t dataset_size() const = 0;
  /// The batch of global step `step` (0-based).
  virtual methods::Batch get(int64_t step) = 0;
};

class ViewLoader : public BatchSource {
 public:
  ViewLoader(data::Dataset dataset, augment::ViewSet views, Normalization norm, LoaderOptions options,
             torch::Device device);
  ~ViewLoader();

  int64_t steps_per_epoch() const override;
  int64_t dataset_size() const override { return dataset_.size(); }
  /// The batch of global step `step` (0-based), computed now.
  methods::Batch batch_at(int64_t step) const;
  /// The batch of `step`, prefetching step + 1 in the background when enabled.
  methods::Batch get(int64_t step) override;

 private:
  torch::Tensor order(int64_t epoch) const;
  data::Dataset dataset_;
  augment::ViewSet views_;
  Normalization norm_;
  LoaderOptions options_;
  torch::Device device_;
  mutable std::mutex order_mutex_;
  mutable int64_t cached_epoch_ = -1;
  mutable torch::Tensor cached_order_;
  int64_t pending_step_ = -1;
  std::future<methods::Batch> pending_;
};

}  // namespace selfsup::train
