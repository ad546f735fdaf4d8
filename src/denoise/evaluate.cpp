#include "selfsup/denoise/evaluate.h"

#include <torch/torch.h>

#include <chrono>

#include "selfsup/core/runtime.h"
#include "selfsup/denoise/quality.h"

namespace selfsup::denoise {

std::vector<NoisyImage> make_noisy(const std::vector<std::string>& names, const std::vector<torch::Tensor>& clean,
                                   const data::NoiseOptions& noise, uint64_t seed) {
  TORCH_CHECK(names.size() == clean.size(), "make_noisy: ", names.size(), " names for ", clean.size(), " images");
  std::vector<NoisyImage> out;
  for (size_t i = 0; i < clean.size(); ++i) {
    auto gen = make_generator(derive_seed(seed, "test-noise:" + names[i]));
    out.push_back({names[i], clean[i], data::add_noise(clean[i].unsqueeze(0), noise, gen).squeeze(0)});
  }
  return out;
}

nlohmann::json Scores::to_json() const {
  nlohmann::json per_image = nlohmann::json::object();
  for (size_t i = 0; i < names.size(); ++i) per_image[names[i]] = {{"psnr", psnr[i]}, {"ssim", ssim[i]}};
  return {{"psnr", mean_psnr}, {"ssim", mean_ssim}, {"seconds", seconds}, {"images", per_image}};
}

Scores score(const std::vector<NoisyImage>& images, const Denoiser& denoiser) {
  TORCH_CHECK(!images.empty(), "no images to score");
  Scores s;
  double seconds = 0;
  for (const auto& im : images) {
    const auto start = std::chrono::steady_clock::now();
    const auto out = denoiser(im.noisy).to(torch::kCPU, torch::kFloat32).clamp(0, 1);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    TORCH_CHECK(out.sizes() == im.clean.sizes(), "the denoised ", im.name, " is ", out.sizes(), ", the clean image ",
                im.clean.sizes());
    s.names.push_back(im.name);
    s.psnr.push_back(psnr(out, im.clean));
    s.ssim.push_back(ssim(out, im.clean));
  }
  const auto n = static_cast<double>(images.size());
  for (size_t i = 0; i < images.size(); ++i) s.mean_psnr += s.psnr[i] / n, s.mean_ssim += s.ssim[i] / n;
  s.seconds = seconds;
  return s;
}

Denoiser network_denoiser(methods::DenoiseMethodImpl& method, torch::Device device) {
  method.eval();
  return [&method, device](const torch::Tensor& noisy) {
    TORCH_CHECK(noisy.dim() == 3, "expected an image [C, H, W], got ", noisy.sizes());
    torch::NoGradGuard no_grad;
    const int64_t want = method.net->options.in_channels(), c = noisy.size(0);
    auto x = noisy.to(device, torch::kFloat32);
    if (want == c) return method.denoise(x.unsqueeze(0)).squeeze(0).to(torch::kCPU);
    TORCH_CHECK(want == 1, "the network denoises ", want, "-channel images; this image has ", c);
    return method.denoise(x.unsqueeze(1)).squeeze(1).to(torch::kCPU);  // each channel as a gray image
  };
}

}  // namespace selfsup::denoise
