#pragma once
// Scoring denoisers on held-out images: every denoiser sees the same noisy version of each clean
// image (its noise drawn from the evaluation seed and the image's name alone), its output is
// clipped to [0, 1], and PSNR / SSIM are taken against the clean image (denoise/quality.h).
#include <torch/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/data/noise.h"
#include "selfsup/methods/denoise.h"

namespace selfsup::denoise {

struct NoisyImage {
  std::string name;
  torch::Tensor clean;  // float [C, H, W] in [0, 1]
  torch::Tensor noisy;  // float [C, H, W], not clipped
};

/// The noisy version of each named clean image, drawn from derive_seed(seed, "test-noise:" + name).
std::vector<NoisyImage> make_noisy(const std::vector<std::string>& names, const std::vector<torch::Tensor>& clean,
                                   const data::NoiseOptions& noise, uint64_t seed);

/// A denoiser: noisy [C, H, W] -> denoised [C, H, W].
using Denoiser = std::function<torch::Tensor(const torch::Tensor&)>;

struct Scores {
  std::vector<std::string> names;
  std::vector<double> psnr, ssim;  // per image
  double mean_psnr = 0, mean_ssim = 0;
  double seconds = 0;              // denoising time, all images
  nlohmann::json to_json() const;
};

/// Scores `denoiser` on every image (outputs clipped to [0, 1]).
Scores score(const std::vector<NoisyImage>& images, const Denoiser& denoiser);

/// The trained network as a Denoiser on `device`, in eval mode without gradients: a network of
/// one channel denoises each channel of a colour image alone; a colour network takes colour only.
Denoiser network_denoiser(methods::DenoiseMethodImpl& method, torch::Device device);

}  // namespace selfsup::denoise
