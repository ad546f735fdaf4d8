#pragma once
// Batches of a denoising run: random square patches of a set of clean images of any sizes, each in
// a random one of the 8 flips and rotations, with synthetic noise (data/noise.h). views[0] is the
// noisy patch; views[1] is what the method asks for (its clean patch, or a second noisy copy with
// independent noise). Every batch is a pure function of (seed, step), as train/loader.h's are.
#include <torch/torch.h>

#include <vector>

#include "selfsup/data/noise.h"
#include "selfsup/methods/denoise.h"
#include "selfsup/train/loader.h"

namespace selfsup::train {

struct DenoiseLoaderOptions {
  /// The global batch; rank r keeps rows [r * b, (r + 1) * b), b = batch_size / world_size.
  TORCH_ARG(int64_t, batch_size) = 16;
  TORCH_ARG(int64_t, patch_size) = 64;
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(int, rank) = 0;
  TORCH_ARG(int, world_size) = 1;
};

class DenoiseLoader : public BatchSource {
 public:
  /// images: float [C, H, W] in [0, 1], every side at least the patch size.
  DenoiseLoader(std::vector<torch::Tensor> images, data::NoiseOptions noise, methods::DenoiseTarget target,
                DenoiseLoaderOptions options, torch::Device device);
  /// One epoch: as many patches as the images hold pixels, in batches.
  int64_t steps_per_epoch() const override;
  int64_t dataset_size() const override { return static_cast<int64_t>(images_.size()); }
  methods::Batch get(int64_t step) override;

 private:
  std::vector<torch::Tensor> images_;
  torch::Tensor weights_;  // float64: each image's share of the patch positions
  data::NoiseOptions noise_;
  methods::DenoiseTarget target_;
  DenoiseLoaderOptions options_;
  torch::Device device_;
};

}  // namespace selfsup::train
