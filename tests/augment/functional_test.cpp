// Deterministic ops: torchvision's outputs (data/torchvision_reference.txt, written by
// data/make_torchvision_reference.py) and hand-computed cases.
#include "selfsup/augment/functional.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "selfsup/augment/transforms.h"
#include "util.h"

namespace F = selfsup::augment::functional;
using selfsup::augment::testing::max_abs_diff;
using selfsup::augment::testing::random_images;
using selfsup::augment::testing::solid;
using torch::Tensor;

namespace {

const std::map<std::string, Tensor>& reference() {
  static const std::map<std::string, Tensor> table = [] {
    std::map<std::string, Tensor> out;
    std::ifstream in(SELFSUP_SOURCE_DIR "/tests/augment/data/torchvision_reference.txt");
    EXPECT_TRUE(in.good()) << "missing torchvision_reference.txt";
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string name;
      int64_t n = 0;
      ss >> name >> n;
      std::vector<float> v(static_cast<size_t>(n));
      for (float& f : v) ss >> f;
      out[name] = torch::tensor(v);
    }
    return out;
  }();
  return table;
}

Tensor expected(const std::string& name, const Tensor& like) {
  auto it = reference().find(name);
  if (it == reference().end()) {
    ADD_FAILURE() << "no reference for " << name;
    return torch::zeros_like(like);
  }
  return it->second.view(like.sizes());
}

Tensor index_grid(std::vector<int64_t> shape, int64_t dim) {
  std::vector<int64_t> view(shape.size(), 1);
  view[dim] = shape[dim];
  return torch::arange(shape[dim]).view(view).expand(shape);
}

// The same formulas as make_torchvision_reference.py.
Tensor reference_u8() {
  std::vector<int64_t> s = {2, 3, 6, 7};
  Tensor b = index_grid(s, 0), c = index_grid(s, 1), h = index_grid(s, 2), w = index_grid(s, 3);
  return (b * 131 + c * 71 + h * 29 + w * 13 + (h * w).remainder(7) * 17).remainder(256);
}
Tensor reference_input() { return reference_u8().to(torch::kFloat) / 255; }

Tensor equalize_input() {
  std::vector<int64_t> s = {2, 3, 24, 24};
  Tensor b = index_grid(s, 0), c = index_grid(s, 1), h = index_grid(s, 2), w = index_grid(s, 3);
  return ((b * 53 + c * 31 + h * h * 3 + w * 5).remainder(97) + b * 40).to(torch::kFloat) / 255;
}

Tensor pair(double a, double b) { return torch::tensor({a, b}, torch::kDouble); }

}  // namespace

TEST(TorchvisionReference, ColorAdjustments) {
  Tensor x = reference_input();
  EXPECT_LT(max_abs_diff(F::adjust_brightness(x, pair(1.3, 0.6)), expected("brightness", x)), 1e-5);
  EXPECT_LT(max_abs_diff(F::adjust_hue(x, pair(0.23, -0.41)), expected("hue", x)), 1e-5);
  EXPECT_LT(max_abs_diff(F::adjust_sharpness(x, pair(1.8, 0.2)), expected("sharpness", x)), 1e-5);
  EXPECT_LT(max_abs_diff(F::solarize(x, pair(0.5, 0.3)), expected("solarize", x)), 1e-6);
  EXPECT_LT(max_abs_diff(F::autocontrast(x), expected("autocontrast", x)), 1e-5);
  EXPECT_LT(max_abs_diff(F::posterize(x, pair(3, 6)), expected("posterize", x)), 1e-6);
  // torchvision's tensor backend weighs red 0.2989 where we (and PIL) use 0.299: ~1e-4 apart.
  EXPECT_LT(max_abs_diff(F::adjust_contrast(x, pair(1.4, 0.5)), expected("contrast", x)), 3e-4);
  EXPECT_LT(max_abs_diff(F::adjust_saturation(x, pair(1.6, 0.3)), expected("saturation", x)), 3e-4);
}

TEST(TorchvisionReference, Equalize) {
  Tensor x = equalize_input();
  EXPECT_LT(max_abs_diff(F::equalize(x), expected("equalize", x)), 1e-6);
}

TEST(TorchvisionReference, ResizedCropMatchesInterpolate) {
  Tensor x = reference_input();
  Tensor out = F::resized_crop(x, torch::tensor({1, 0}), torch::tensor({2, 0}),
                               torch::tensor({4, 6}), torch::tensor({3, 7}), {5, 8});
  EXPECT_LT(max_abs_diff(out, expected("resized_crop", out)), 1e-5);
}

TEST(Functional, ResizedCropIsInterpolateOfTheCropAtAnySize) {
  // Small images take a matmul path, large ones grid_sample: both must equal torch's bilinear
  // interpolate (align_corners = false) of the cropped image, with and without the fused flip.
  namespace nnf = torch::nn::functional;
  for (int64_t side : {20, 150}) {
    Tensor x = random_images(3, 3, side, side + 4);
    auto boxes = [](std::vector<int64_t> v) { return torch::tensor(v); };
    Tensor top = boxes({0, side / 3, 5}), left = boxes({2, 0, side / 2});
    Tensor height = boxes({side, side / 2, 7}), width = boxes({side / 4, side + 4, 9});
    Tensor flip = torch::tensor({false, true, true});
    for (std::array<int64_t, 2> size : {std::array<int64_t, 2>{side / 2, side}, {side, 11}}) {
      Tensor out = F::resized_crop(x, top, left, height, width, size, flip);
      for (int64_t b = 0; b < 3; ++b) {
        Tensor crop = x.narrow(0, b, 1)
                          .narrow(2, top[b].item<int64_t>(), height[b].item<int64_t>())
                          .narrow(3, left[b].item<int64_t>(), width[b].item<int64_t>());
        Tensor ref = nnf::interpolate(crop, nnf::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{size[0], size[1]})
                                                .mode(torch::kBilinear)
                                                .align_corners(false));
        if (flip[b].item<bool>()) ref = ref.flip(3);
        // grid_sample's normalized coordinates cost a little precision on large images.
        EXPECT_LT(max_abs_diff(out.narrow(0, b, 1), ref), 5e-5) << side << " sample " << b;
      }
    }
  }
}

TEST(TorchvisionReference, GaussianBlurWithFixedSigma) {
  Tensor x = reference_input();
  std::vector<Tensor> parts;
  torch::Generator gen = selfsup::make_generator(1);
  for (int64_t i = 0; i < 2; ++i) {
    const double s = i == 0 ? 0.8 : 1.7;
    auto o = selfsup::augment::GaussianBlurOptions(5).sigma({s, s}).p(1.0);
    parts.push_back(F::gaussian_blur(x.narrow(0, i, 1), o, gen));
  }
  Tensor out = torch::cat(parts);
  EXPECT_LT(max_abs_diff(out, expected("blur", out)), 1e-5);
}

TEST(Functional, BrightnessIsTheTorchvisionFormulaOnAHandExample) {
  Tensor x = torch::tensor({0.2f, 0.5f, 0.8f}).view({1, 1, 1, 3});
  Tensor y = F::adjust_brightness(x, 1.5);
  // clamp(1.5 * x, 0, 1)
  EXPECT_NEAR(y[0][0][0][0].item<float>(), 0.3f, 1e-6);
  EXPECT_NEAR(y[0][0][0][1].item<float>(), 0.75f, 1e-6);
  EXPECT_NEAR(y[0][0][0][2].item<float>(), 1.0f, 1e-6);
}

TEST(Functional, ContrastBlendsWithTheMeanGray) {
  Tensor x = torch::tensor({0.2f, 0.4f}).view({1, 1, 1, 2});  // mean 0.3
  Tensor y = F::adjust_contrast(x, 2.0);                      // 2 x - 0.3
  EXPECT_NEAR(y[0][0][0][0].item<float>(), 0.1f, 1e-6);
  EXPECT_NEAR(y[0][0][0][1].item<float>(), 0.5f, 1e-6);
}

TEST(Functional, GrayscaleUsesItuR601Weights) {
  Tensor x = torch::tensor({0.2f, 0.6f, 1.0f}).view({1, 3, 1, 1});
  EXPECT_NEAR(F::rgb_to_grayscale(x).item<float>(), 0.299f * 0.2f + 0.587f * 0.6f + 0.114f * 1.0f,
              1e-6);
  for (auto [r, g, b, w] :
       {std::tuple{1.f, 0.f, 0.f, 0.299f}, {0.f, 1.f, 0.f, 0.587f}, {0.f, 0.f, 1.f, 0.114f}}) {
    EXPECT_NEAR(F::rgb_to_grayscale(solid(1, 1, 1, r, g, b)).item<float>(), w, 1e-6);
  }
}

TEST(Functional, HueShiftZeroIsIdentityAndHalfTurnsRedIntoCyan) {
  Tensor x = random_images(4, 3, 9, 9);
  EXPECT_LT(max_abs_diff(F::adjust_hue(x, 0.0), x), 1e-5);
  Tensor cyan = F::adjust_hue(solid(2, 3, 3, 1, 0, 0), 0.5);
  EXPECT_LT(max_abs_diff(cyan, solid(2, 3, 3, 0, 1, 1)), 1e-6);
  // Gray pixels have no hue.
  Tensor gray = solid(1, 2, 2, 0.4f, 0.4f, 0.4f);
  EXPECT_LT(max_abs_diff(F::adjust_hue(gray, 0.3), gray), 1e-6);
}

namespace {
// Textbook per-pixel RGB -> HSV -> RGB (Python's colorsys), independent of the batched formula.
std::array<double, 3> hue_shift_naive(double r, double g, double b, double shift) {
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), v = mx;
  if (mx == mn) return {v, v, v};
  const double s = (mx - mn) / mx;
  const double rc = (mx - r) / (mx - mn), gc = (mx - g) / (mx - mn), bc = (mx - b) / (mx - mn);
  double h = r == mx ? bc - gc : g == mx ? 2.0 + rc - bc : 4.0 + gc - rc;
  h = std::fmod(h / 6.0 + 1.0, 1.0);
  h = std::fmod(h + shift + 1.0, 1.0);
  const int i = static_cast<int>(h * 6.0) % 6;
  const double f = h * 6.0 - std::floor(h * 6.0);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i) {
    case 0:
      return {v, t, p};
    case 1:
      return {q, v, p};
    case 2:
      return {p, v, t};
    case 3:
      return {p, q, v};
    case 4:
      return {t, p, v};
    default:
      return {v, p, q};
  }
}
}  // namespace

TEST(Functional, HueMatchesPerPixelHsvRoundTrip) {
  Tensor x = random_images(3, 3, 5, 6, 11);
  const double shifts[3] = {0.37, -0.12, 0.5};
  Tensor y = F::adjust_hue(x, torch::tensor({shifts[0], shifts[1], shifts[2]}, torch::kDouble));
  auto xa = x.accessor<float, 4>();
  auto ya = y.accessor<float, 4>();
  double worst = 0;
  for (int b = 0; b < 3; ++b)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 6; ++j) {
        auto e = hue_shift_naive(xa[b][0][i][j], xa[b][1][i][j], xa[b][2][i][j], shifts[b]);
        for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(e[c] - ya[b][c][i][j]));
      }
  EXPECT_LT(worst, 1e-5);
}

TEST(Functional, OneChannelSaturationAndHueAreIdentity) {
  Tensor x = random_images(2, 1, 5, 5);
  EXPECT_TRUE(F::adjust_saturation(x, 0.1).equal(x));
  EXPECT_TRUE(F::adjust_hue(x, 0.4).equal(x));
  // Contrast still works on one channel: factor 0 gives the per-sample mean everywhere.
  Tensor flat = F::adjust_contrast(x, 0.0);
  EXPECT_LT(max_abs_diff(flat, x.mean({1, 2, 3}, true).expand_as(x)), 1e-6);
}

TEST(Functional, AffineIdentityAndTranslation) {
  Tensor x = random_images(2, 3, 6, 8);
  Tensor eye = torch::tensor({1.0, 0.0, 0.0, 0.0, 1.0, 0.0}).view({1, 2, 3}).repeat({2, 1, 1});
  EXPECT_LT(max_abs_diff(F::affine(x, eye), x), 1e-6);
  // Reading 2 px to the right shifts the content left; the last 2 columns are filled.
  Tensor shift = eye.clone();
  shift.select(1, 0).select(1, 2).fill_(2.0);
  Tensor y = F::affine(x, shift, 0.25);
  EXPECT_LT(max_abs_diff(y.narrow(3, 0, 6), x.narrow(3, 2, 6)), 1e-6);
  EXPECT_LT(max_abs_diff(y.narrow(3, 6, 2), torch::full({2, 3, 6, 2}, 0.25f)), 1e-6);
}

TEST(Functional, RejectsBadInput) {
  EXPECT_THROW(F::adjust_brightness(torch::rand({3, 4, 4}), 1.0), c10::Error);     // not 4-D
  EXPECT_THROW(F::adjust_brightness(torch::rand({1, 2, 4, 4}), 1.0), c10::Error);  // 2 channels
  EXPECT_THROW(F::adjust_brightness(torch::rand({2, 3, 4, 4}).to(torch::kDouble), 1.0), c10::Error);
  EXPECT_THROW(F::adjust_hue(torch::rand({1, 3, 4, 4}), 0.7), c10::Error);
  EXPECT_THROW(F::adjust_contrast(torch::rand({2, 3, 4, 4}), torch::ones({3})), c10::Error);
}
