#pragma once
// The library forms of `selfsup denoise train | apply | eval`: self-supervised image denoising
// (methods n2c, n2n, n2v, nb2nb on a U-Net) on a folder of clean images with synthetic noise,
// scored by PSNR / SSIM on held-out images against the classical filters.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Trains the denoising method of `cfg` on random patches of its training images (data.root with
/// data.train, data.val and data.test naming the files), then scores it on the validation and
/// test images and draws denoise_examples.png; returns the summary written to the run folder.
nlohmann::json denoise_train(Config cfg, const RunOptions& options);

struct DenoiseApplyOptions {
  std::string checkpoint;  // a run folder or its last.ckpt
  std::string in, out;     // image files (.png, .jpg; out is written atomically)
  int threads = 0;         // 0: all cores
  std::string device;      // "": the one it was trained on
};
/// Denoises one image file with a trained network; returns {in, out, size, seconds}.
nlohmann::json denoise_apply(const DenoiseApplyOptions& options);

struct DenoiseEvalOptions {
  std::vector<std::string> checkpoints;  // trained networks (run folders or checkpoints)
  std::vector<std::string> filters;      // classical filters (gaussian_blur, nlm): strength chosen on data.val
  std::string config;     // the data and noise; "": the first checkpoint's
  std::string in;         // score every image of this folder instead of the config's test images
  std::string examples;   // write the examples picture (PNG) here when given
  int threads = 0;
  std::string device;
};
/// Scores each network and filter, and the noisy images themselves, on the same noisy images.
nlohmann::json denoise_eval(const DenoiseEvalOptions& options);

}  // namespace selfsup::run
