#pragma once
// The classical filters a learned denoiser is compared with, from OpenCV: a Gaussian blur and
// non-local means (Buades et al. 2005; OpenCV's fastNlMeansDenoising, 7x7 patches, 21x21 search
// window). Each has one strength, chosen by the caller on validation images from the filter's
// grid.
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

namespace selfsup::denoise {

/// A Gaussian blur of [C, H, W] float (any range) with standard deviation sigma in pixels, a
/// kernel of side 2 ceil(3 sigma) + 1, borders reflected (OpenCV's BORDER_REFLECT_101).
torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma);

/// Non-local means of [C, H, W] float in [0, 1], quantised to 8 bits as OpenCV's filter takes it,
/// each channel alone, with filter strength h on the 0-255 scale; the result is float in [0, 1].
torch::Tensor nonlocal_means(const torch::Tensor& image, double h);

struct ClassicalFilter {
  std::string name;
  std::string strength_name;         // "sigma", "h"
  std::vector<double> strengths;     // the grid the strength is chosen from
  std::function<torch::Tensor(const torch::Tensor&, double)> apply;
};

/// gaussian_blur and nlm.
const std::vector<ClassicalFilter>& classical_filters();
/// Throws naming the known filters when `name` is none of them.
const ClassicalFilter& classical_filter(const std::string& name);

}  // namespace selfsup::denoise
