#pragma once
// Writing batches of images as one PNG grid, to look at augmented views.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace selfsup::augment {

/// Writes images [N, C, H, W] (float in [0, 1], clamped, or uint8; C = 1 or 3) as a grid of
/// `columns` cells per row, each image enlarged `scale` times (nearest neighbour), cells separated
/// by a 2 px white border. Throws naming the path when it cannot be written.
void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t columns,
                    int64_t scale = 1);
/// The same grid as the bytes of a PNG file (for a caller that writes it atomically).
std::string encode_png_grid(const torch::Tensor& images, int64_t columns, int64_t scale = 1);

}  // namespace selfsup::augment
