#pragma once
// Image files in and out of the denoising commands, and the examples picture.
#include <torch/types.h>

#include <string>
#include <vector>

namespace selfsup::denoise {

/// The image files (png, jpg, jpeg, bmp) directly in `dir`, sorted by name. Throws when `dir`
/// is not a folder.
std::vector<std::string> image_files(const std::string& dir);

/// A file decoded to float [C, H, W] in [0, 1]: channels 0 keeps the file's own (1 for gray, 3
/// otherwise, alpha dropped), 1 converts to gray, 3 to RGB. Throws naming the file when it is not
/// an image.
torch::Tensor read_image(const std::string& path, int64_t channels = 0);

/// [C, H, W] float (clipped to [0, 1], rounded to 8 bits; C = 1 or 3) encoded as PNG or JPEG
/// (quality 95) by the extension of `path`. Throws naming any other extension.
std::string encode_image(const torch::Tensor& image, const std::string& path);

/// The examples picture as the bytes of a PNG: one row per image, one column per version of it
/// (`columns` names them above; the last is the clean image), each a `crop` x `crop` square
/// enlarged `zoom` times (nearest neighbour). The square is where the clean image varies most.
std::string examples_png(const std::vector<std::string>& columns, const std::vector<std::vector<torch::Tensor>>& rows,
                         int64_t crop = 96, int64_t zoom = 3);

}  // namespace selfsup::denoise
