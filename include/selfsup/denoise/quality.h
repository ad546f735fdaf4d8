#pragma once
// Image quality of a denoised image against its clean reference, as the denoising papers report
// it: PSNR = 10 log10(MAX^2 / MSE), and SSIM (Wang et al. 2004) with an 11x11 Gaussian window of
// sigma 1.5, K1 = 0.01, K2 = 0.03, averaged over the window positions inside the image (MATLAB's
// ssim_index, no padding) and over channels. Images are compared as given: callers clip outputs
// to [0, 1] first.
#include <torch/types.h>

namespace selfsup::denoise {

/// image and reference: same shape, [C, H, W] or [H, W], on a scale whose maximum is max_value.
/// Infinite when they are equal.
double psnr(const torch::Tensor& image, const torch::Tensor& reference, double max_value = 1.0);

/// The same inputs; every side at least 11.
double ssim(const torch::Tensor& image, const torch::Tensor& reference, double max_value = 1.0);

}  // namespace selfsup::denoise
