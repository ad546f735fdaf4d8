#include "selfsup/denoise/quality.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace selfsup::denoise {
namespace {

void check_pair(const torch::Tensor& a, const torch::Tensor& b, double max_value, const char* who) {
  TORCH_CHECK(a.defined() && b.defined() && a.sizes() == b.sizes(), who, ": the image ", a.sizes(),
              " and its reference ", b.sizes(), " must have one shape");
  TORCH_CHECK(a.dim() == 2 || a.dim() == 3, who, ": expected [C, H, W] or [H, W], got ", a.sizes());
  TORCH_CHECK(max_value > 0, who, ": max_value must be positive, got ", max_value);
}

/// [C, H, W] float64 on the CPU.
torch::Tensor as_chw(const torch::Tensor& t) {
  auto x = t.detach().to(torch::kCPU, torch::kFloat64);
  return x.dim() == 2 ? x.unsqueeze(0) : x;
}

}  // namespace

double psnr(const torch::Tensor& image, const torch::Tensor& reference, double max_value) {
  check_pair(image, reference, max_value, "psnr");
  const double mse = (as_chw(image) - as_chw(reference)).pow(2).mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(max_value * max_value / mse);
}

double ssim(const torch::Tensor& image, const torch::Tensor& reference, double max_value) {
  check_pair(image, reference, max_value, "ssim");
  constexpr int64_t kSide = 11;
  constexpr double kSigma = 1.5;
  const auto x = as_chw(image).unsqueeze(1), y = as_chw(reference).unsqueeze(1);  // [C, 1, H, W]
  TORCH_CHECK(x.size(2) >= kSide && x.size(3) >= kSide, "ssim: images must be at least ", kSide, "x", kSide,
              ", got ", x.size(2), "x", x.size(3));
  auto g = torch::arange(kSide, torch::kFloat64) - (kSide - 1) / 2.0;
  g = torch::exp(-g.pow(2) / (2 * kSigma * kSigma));
  g = g / g.sum();
  const auto window = torch::outer(g, g).view({1, 1, kSide, kSide});
  auto filter = [&](const torch::Tensor& t) { return torch::conv2d(t, window); };
  const double c1 = std::pow(0.01 * max_value, 2), c2 = std::pow(0.03 * max_value, 2);
  const auto mx = filter(x), my = filter(y);
  const auto sxx = filter(x * x) - mx * mx, syy = filter(y * y) - my * my, sxy = filter(x * y) - mx * my;
  const auto map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  return map.mean().item<double>();
}

}  // namespace selfsup::denoise
