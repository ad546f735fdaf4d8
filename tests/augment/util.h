#pragma once
// Helpers shared by the augment tests.
#include <torch/torch.h>

#include "selfsup/core/runtime.h"

namespace selfsup::augment::testing {

/// A float batch in [0, 1] with independent uniform pixels.
inline torch::Tensor random_images(int64_t b, int64_t c, int64_t h, int64_t w, uint64_t seed = 7) {
  torch::Generator gen = selfsup::make_generator(seed);
  return torch::rand({b, c, h, w}, gen);
}

/// A one-colour batch [b, 3, h, w].
inline torch::Tensor solid(int64_t b, int64_t h, int64_t w, float r, float g, float bl) {
  return torch::tensor({r, g, bl}).view({1, 3, 1, 1}).expand({b, 3, h, w}).contiguous();
}

inline float max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<float>();
}

}  // namespace selfsup::augment::testing
