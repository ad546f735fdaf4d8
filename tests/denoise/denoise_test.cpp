// PSNR and SSIM against loops over the pixels and analytic values; the classical filters on a
// flat image; image files in and out; the examples picture; scoring.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "selfsup/core/runtime.h"
#include "selfsup/denoise/classical.h"
#include "selfsup/denoise/evaluate.h"
#include "selfsup/denoise/images.h"
#include "selfsup/denoise/quality.h"
#include "support/error_of.h"

namespace DN = selfsup::denoise;
using selfsup::testing::error_of;

namespace {

double psnr_loops(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.flatten(), y = b.flatten();
  double se = 0;
  for (int64_t i = 0; i < x.numel(); ++i) se += std::pow(x[i].item<double>() - y[i].item<double>(), 2);
  return 10 * std::log10(1.0 / (se / static_cast<double>(x.numel())));
}

// Wang et al.'s SSIM written out: every 11x11 window inside the image, Gaussian weights.
double ssim_loops(const torch::Tensor& a, const torch::Tensor& b) {
  double w[11][11], total = 0;
  for (int i = 0; i < 11; ++i)
    for (int j = 0; j < 11; ++j) total += w[i][j] = std::exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  const auto x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  auto px = x.accessor<double, 2>(), py = y.accessor<double, 2>();
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r + 11 <= x.size(0); ++r)
    for (int64_t c = 0; c + 11 <= x.size(1); ++c) {
      double mx = 0, my = 0;
      for (int i = 0; i < 11; ++i)
        for (int j = 0; j < 11; ++j) mx += w[i][j] / total * px[r + i][c + j], my += w[i][j] / total * py[r + i][c + j];
      double vx = 0, vy = 0, cxy = 0;
      for (int i = 0; i < 11; ++i)
        for (int j = 0; j < 11; ++j) {
          const double dx = px[r + i][c + j] - mx, dy = py[r + i][c + j] - my;
          vx += w[i][j] / total * dx * dx, vy += w[i][j] / total * dy * dy, cxy += w[i][j] / total * dx * dy;
        }
      sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      ++count;
    }
  return sum / static_cast<double>(count);
}

}  // namespace

TEST(Quality, PsnrMatchesALoopAndAnAnalyticValue) {
  selfsup::seed_everything(0);
  const auto a = torch::rand({1, 9, 13}), b = torch::rand({1, 9, 13});
  EXPECT_NEAR(DN::psnr(a, b), psnr_loops(a, b), 1e-9);
  // An error of 0.1 everywhere: 10 log10(1 / 0.01) = 20 dB; on the 0-255 scale the same.
  EXPECT_NEAR(DN::psnr(torch::full({1, 4, 4}, 0.3, torch::kFloat64), torch::full({1, 4, 4}, 0.4, torch::kFloat64)), 20.0,
              1e-9);
  EXPECT_NEAR(DN::psnr(torch::full({4, 4}, 30.0), torch::full({4, 4}, 55.5), 255), 20.0, 1e-9);
  EXPECT_TRUE(std::isinf(DN::psnr(a, a)));
  EXPECT_NE(error_of([&] { DN::psnr(a, torch::rand({1, 9, 12})); }).find("must have one shape"), std::string::npos);
}

TEST(Quality, SsimMatchesALoopAndAnalyticValues) {
  selfsup::seed_everything(1);
  const auto a = torch::rand({17, 20}), b = (a + 0.2 * torch::randn({17, 20})).clamp(0, 1);
  EXPECT_NEAR(DN::ssim(a, b), ssim_loops(a, b), 1e-9);
  EXPECT_NEAR(DN::ssim(a, a), 1.0, 1e-12);
  // Two flat images a and b: (2ab + C1) / (a^2 + b^2 + C1).
  const double c1 = 1e-4;
  EXPECT_NEAR(DN::ssim(torch::full({12, 12}, 0.2, torch::kFloat64), torch::full({12, 12}, 0.6, torch::kFloat64)),
              (2 * 0.12 + c1) / (0.04 + 0.36 + c1), 1e-9);
  // Channels are averaged.
  const auto two = torch::stack({a, b});
  EXPECT_NEAR(DN::ssim(two, torch::stack({b, b})), (ssim_loops(a, b) + 1.0) / 2, 1e-9);
  EXPECT_NE(error_of([] { DN::ssim(torch::rand({10, 30}), torch::rand({10, 30})); }).find("at least 11x11"),
            std::string::npos);
}

TEST(Classical, FiltersRecoverAFlatImagesValue) {
  auto gen = selfsup::make_generator(2);
  const auto clean = torch::full({1, 1, 96, 96}, 0.4);
  const auto noisy = selfsup::data::add_noise(clean, selfsup::data::NoiseOptions(), gen).squeeze(0);
  EXPECT_NEAR(DN::gaussian_blur(clean[0], 2.0).sub(0.4).abs().max().item<double>(), 0.0, 1e-6);
  const auto blurred = DN::gaussian_blur(noisy, 3.0), nlm = DN::nonlocal_means(noisy.clamp(0, 1), 30);
  EXPECT_NEAR(blurred.mean().item<double>(), 0.4, 0.01);
  EXPECT_NEAR(nlm.mean().item<double>(), 0.4, 0.01);
  // Both remove most of the noise: the residual's spread falls well below sigma (25 / 255).
  EXPECT_LT(blurred.std().item<double>(), 0.3 * 25 / 255);
  EXPECT_LT(nlm.std().item<double>(), 0.3 * 25 / 255);
  EXPECT_GT(DN::psnr(nlm, clean[0]), DN::psnr(noisy.clamp(0, 1), clean[0]) + 10);
  EXPECT_NE(error_of([] { DN::classical_filter("bm3d"); }).find("unknown filter 'bm3d' (expected gaussian_blur or nlm)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { DN::gaussian_blur(noisy, -1); }).find("sigma must be positive, got -1"), std::string::npos);
}

TEST(Images, PngRoundTripsAndOtherFilesAreRefusedByName) {
  const auto dir = std::filesystem::temp_directory_path() / "selfsup_denoise_images_test";
  std::filesystem::create_directories(dir);
  const auto img = (torch::arange(3 * 20 * 30, torch::kFloat32).view({3, 20, 30}).remainder(256) / 255.0);
  const auto png = (dir / "a.png").string();
  {
    std::ofstream f(png, std::ios::binary);
    const auto bytes = DN::encode_image(img, png);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto back = DN::read_image(png);
  ASSERT_EQ(back.sizes(), img.sizes());
  EXPECT_LT((back - img).abs().max().item<double>(), 0.5 / 255 + 1e-6);  // 8 bits, lossless
  EXPECT_EQ(DN::read_image(png, 1).size(0), 1);
  {
    std::ofstream f((dir / "b.png").string());
    f << "not an image\n";
  }
  const auto msg = error_of([&] { DN::read_image((dir / "b.png").string()); });
  EXPECT_NE(msg.find("b.png"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { DN::encode_image(img, "out.tiff"); }).find("must end in .png, .jpg or .jpeg"),
            std::string::npos);
  EXPECT_EQ(DN::image_files(dir.string()).size(), 2u);
  std::filesystem::remove_all(dir);
}

TEST(Evaluate, NoiseDependsOnTheSeedAndNameAloneAndScoresClipOutputs) {
  const auto clean = torch::full({1, 24, 24}, 0.5);
  const DN::Denoiser identity = [](const torch::Tensor& x) { return x; };
  const auto a = DN::make_noisy({"x", "y"}, {clean, clean}, selfsup::data::NoiseOptions(), 7);
  const auto b = DN::make_noisy({"y"}, {clean}, selfsup::data::NoiseOptions(), 7);
  EXPECT_TRUE(torch::equal(a[1].noisy, b[0].noisy));
  EXPECT_FALSE(torch::equal(a[0].noisy, a[1].noisy));
  const auto s = DN::score(a, [](const torch::Tensor& x) { return x * 0 + 2.0; });  // clipped to 1
  EXPECT_NEAR(s.mean_psnr, 10 * std::log10(1 / 0.25), 1e-9);
  const auto j = DN::score(a, identity).to_json();
  EXPECT_TRUE(j["images"].contains("x") && j["images"].contains("y"));
  EXPECT_NEAR(j["psnr"].get<double>(), 20.17, 0.6);  // sigma 25: 20 log10(255 / 25), a little more once clipped
}

TEST(Images, ExamplesPictureHasACellPerImageAndVersion) {
  const auto im = torch::rand({1, 50, 60});
  const auto png = DN::examples_png({"noisy", "n2n", "clean"}, {{im, im, im}, {im, im, im}}, 40, 2);
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_NE(error_of([&] { DN::examples_png({"a", "b"}, {{im}}, 40, 2); }).find("has 1 images for 2 columns"),
            std::string::npos);
}
