#pragma once
// Deterministic image operations on float batches [B, C, H, W] in [0, 1] (C = 1 or 3), with one
// factor per sample. They follow torchvision.transforms.functional (tensor backend) and are the
// building blocks of the random transforms in transforms.h and randaugment.h.
//
// `factor` arguments are float tensors [B] on any device (moved to the batch's device); a scalar
// overload broadcasts one value to every sample. The input is never modified; results are fresh
// tensors, or the input itself where an op is the identity (saturation and hue of 1 channel).
#include <torch/types.h>

#include <array>
#include <cstdint>

namespace selfsup::augment::functional {

/// ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B, as [B, 1, H, W]. A 1-channel batch is returned
/// as is. (torchvision's tensor backend uses 0.2989 for R; PIL and this library use 0.299.)
torch::Tensor rgb_to_grayscale(const torch::Tensor& x);

/// clamp(f * x, 0, 1).
torch::Tensor adjust_brightness(const torch::Tensor& x, const torch::Tensor& factor);
/// clamp(f * x + (1 - f) * mean(grayscale(x)), 0, 1); the mean is per sample.
torch::Tensor adjust_contrast(const torch::Tensor& x, const torch::Tensor& factor);
/// clamp(f * x + (1 - f) * grayscale(x), 0, 1); identity on 1-channel batches.
torch::Tensor adjust_saturation(const torch::Tensor& x, const torch::Tensor& factor);
/// Shifts the HSV hue by `shift` (in turns, [-0.5, 0.5]); identity on 1-channel batches.
torch::Tensor adjust_hue(const torch::Tensor& x, const torch::Tensor& shift);
/// PIL's ImageEnhance.Sharpness: blend with the 3x3 smoothing filter [[1,1,1],[1,5,1],[1,1,1]]/13
/// (border pixels kept), clamp(f * x + (1 - f) * smooth(x), 0, 1).
torch::Tensor adjust_sharpness(const torch::Tensor& x, const torch::Tensor& factor);
/// Pixels >= threshold become 1 - x.
torch::Tensor solarize(const torch::Tensor& x, const torch::Tensor& threshold);
/// Keeps the top `bits` bits (integer 1..8 per sample) of the 8-bit quantized image.
torch::Tensor posterize(const torch::Tensor& x, const torch::Tensor& bits);
/// Per sample and channel, stretches [min, max] to [0, 1]; constant channels are kept.
torch::Tensor autocontrast(const torch::Tensor& x);
/// Histogram equalization per sample and channel with torchvision's (and PIL's) lookup table,
/// computed on the image quantized to 256 levels. Exact for images that are multiples of 1/255
/// (decoded uint8 data); otherwise values are first rounded to the nearest 1/255.
torch::Tensor equalize(const torch::Tensor& x);

torch::Tensor adjust_brightness(const torch::Tensor& x, double factor);
torch::Tensor adjust_contrast(const torch::Tensor& x, double factor);
torch::Tensor adjust_saturation(const torch::Tensor& x, double factor);
torch::Tensor adjust_hue(const torch::Tensor& x, double shift);

/// Per-sample inverse affine map in pixel units about the image centre: the output pixel at
/// centred position p (x right, y down) reads the input at A p + t. `matrix` is [B, 2, 3] = [A | t]
/// (any device, any floating dtype). Pixels that fall outside the input get `fill`.
/// `bilinear` false samples the nearest pixel (as PIL's default for rotate/affine).
torch::Tensor affine(const torch::Tensor& x, const torch::Tensor& matrix, double fill = 0.0,
                     bool bilinear = false);

/// Crops the box (top, left, height, width) of each sample (int64 tensors [B], in pixels, inside
/// the image) and resizes it to `size` with bilinear interpolation, exactly as torch's interpolate
/// (align_corners = false, no antialiasing) of the cropped image: pixels outside the box are never
/// read. The whole batch at once (up to 128 px: row gathers and one batched matmul; above: one
/// grid_sample); `flip` (bool [B], optional) mirrors the result horizontally in the same pass.
torch::Tensor resized_crop(const torch::Tensor& x, const torch::Tensor& top,
                           const torch::Tensor& left, const torch::Tensor& height,
                           const torch::Tensor& width, std::array<int64_t, 2> size,
                           const torch::Tensor& flip = {});

}  // namespace selfsup::augment::functional
