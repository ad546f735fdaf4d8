#include "selfsup/denoise/classical.h"

#include <torch/torch.h>

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

namespace selfsup::denoise {
namespace {

/// Applies `op` to each channel of [C, H, W] as an OpenCV matrix of `cv_type` (CV_32F or CV_8U).
torch::Tensor per_channel(const torch::Tensor& image, bool as_u8,
                          const std::function<void(const cv::Mat&, cv::Mat&)>& op) {
  TORCH_CHECK(image.dim() == 3 && image.is_floating_point(), "expected a float image [C, H, W], got ", image.sizes(),
              " of ", image.scalar_type());
  auto x = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (as_u8) x = (x.clamp(0, 1) * 255).round().to(torch::kUInt8).contiguous();
  auto out = torch::empty_like(x);
  const int h = static_cast<int>(x.size(1)), w = static_cast<int>(x.size(2));
  const int type = as_u8 ? CV_8U : CV_32F;
  for (int64_t c = 0; c < x.size(0); ++c) {
    const cv::Mat in(h, w, type, x[c].data_ptr());
    cv::Mat dst(h, w, type, out[c].data_ptr());
    cv::Mat result;
    op(in, result);
    result.copyTo(dst);
  }
  return as_u8 ? out.to(torch::kFloat32) / 255.0 : out;
}

}  // namespace

torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma) {
  TORCH_CHECK(std::isfinite(sigma) && sigma > 0, "gaussian_blur: sigma must be positive, got ", sigma);
  const int side = 2 * static_cast<int>(std::ceil(3 * sigma)) + 1;
  return per_channel(image, false, [&](const cv::Mat& in, cv::Mat& out) {
    cv::GaussianBlur(in, out, cv::Size(side, side), sigma, sigma, cv::BORDER_REFLECT_101);
  });
}

torch::Tensor nonlocal_means(const torch::Tensor& image, double h) {
  TORCH_CHECK(std::isfinite(h) && h > 0, "nonlocal_means: h must be positive, got ", h);
  return per_channel(image, true, [&](const cv::Mat& in, cv::Mat& out) {
    cv::fastNlMeansDenoising(in, out, static_cast<float>(h), 7, 21);
  });
}

const std::vector<ClassicalFilter>& classical_filters() {
  static const std::vector<ClassicalFilter> filters{
      {"gaussian_blur", "sigma", {0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0}, gaussian_blur},
      {"nlm", "h", {5, 10, 15, 20, 25, 30, 35, 40, 50}, nonlocal_means},
  };
  return filters;
}

const ClassicalFilter& classical_filter(const std::string& name) {
  for (const auto& f : classical_filters()) {
    if (f.name == name) return f;
  }
  TORCH_CHECK(false, "unknown filter '", name, "' (expected gaussian_blur or nlm)");
}

}  // namespace selfsup::denoise
