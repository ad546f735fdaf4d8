#pragma once
// Synthetic noise for denoising: additive Gaussian noise of a fixed standard deviation or of one
// drawn per image from a range (the "blind" setting), and Poisson (shot) noise. Images are float
// in [0, 1]; sigma is given on the 0-255 scale, as the papers state it. Noisy images are not
// clipped: the noise stays zero-mean, which Noise2Noise's targets need.
#include <torch/types.h>

#include <string>

#include "selfsup/core/config.h"

namespace selfsup::data {

enum class NoiseType { kGaussian, kPoisson };

struct NoiseOptions {
  TORCH_ARG(NoiseType, type) = NoiseType::kGaussian;
  /// Gaussian: the standard deviation on the 0-255 scale, drawn per image uniformly from
  /// [sigma_min, sigma_max] when they differ.
  TORCH_ARG(double, sigma_min) = 25;
  TORCH_ARG(double, sigma_max) = 25;
  /// Poisson: the expected photon count of a white pixel (noisy = Poisson(peak * x) / peak).
  TORCH_ARG(double, peak) = 30;

 public:
  /// noise.type (gaussian | poisson), noise.sigma (a number, or [min, max]), noise.peak; checked.
  static NoiseOptions from_config(const Config& cfg);
  /// "gaussian sigma 25", "gaussian sigma 5-50", "poisson peak 30".
  std::string describe() const;
  /// Throws naming the offending option.
  void check() const;
};

NoiseType noise_type_from_name(const std::string& name);

/// clean [N, C, H, W] float in [0, 1] -> noisy, drawn from `gen` (one sigma per image).
torch::Tensor add_noise(const torch::Tensor& clean, const NoiseOptions& options, torch::Generator& gen);

}  // namespace selfsup::data
