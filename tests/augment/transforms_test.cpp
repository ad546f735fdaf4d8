// Random transforms: exact cases, parameter statistics, ranges, determinism, 1 and 3 channels.
#include "selfsup/augment/transforms.h"

#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/augment/functional.h"
#include "selfsup/augment/randaugment.h"
#include "util.h"
#include "../../src/augment/common.h"  // detail::color_jitter: both kernels

namespace A = selfsup::augment;
namespace F = selfsup::augment::functional;
using A::testing::max_abs_diff;
using A::testing::random_images;
using A::testing::solid;
using selfsup::make_generator;
using torch::Tensor;

TEST(HorizontalFlip, POneFlipsEverySamplePZeroIsIdentity) {
  Tensor x = random_images(5, 3, 4, 6);
  torch::Generator gen = make_generator(1);
  EXPECT_TRUE(F::hflip(x, A::HorizontalFlipOptions().p(1.0), gen).equal(x.flip(3)));
  EXPECT_TRUE(F::hflip(x, A::HorizontalFlipOptions().p(0.0), gen).equal(x));
}

TEST(HorizontalFlip, HalfOfTheSamplesAndInputUntouched) {
  Tensor x = random_images(400, 1, 3, 5);
  Tensor copy = x.clone();
  torch::Generator gen = make_generator(2);
  Tensor y = F::hflip(x, A::HorizontalFlipOptions().p(0.5), gen);
  EXPECT_TRUE(x.equal(copy));
  int64_t flipped = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const bool same = y[i].equal(x[i]), mirrored = y[i].equal(x[i].flip(2));
    ASSERT_TRUE(same || mirrored) << "sample " << i;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 150);
  EXPECT_LT(flipped, 250);
}

TEST(ColorJitter, ZeroStrengthIsIdentity) {
  for (int64_t c : {1, 3}) {
    Tensor x = random_images(6, c, 5, 5);
    torch::Generator gen = make_generator(3);
    EXPECT_TRUE(F::color_jitter(x, A::ColorJitterOptions().p(1.0), gen).equal(x));
  }
}

TEST(ColorJitter, BrightnessFactorsPerSampleInRange) {
  // Dark images so that 1.4 x never clips: every sample is x times its own factor.
  Tensor x = random_images(300, 3, 4, 4) * 0.7 + 0.01;
  torch::Generator gen = make_generator(4);
  Tensor y = F::color_jitter(x, A::ColorJitterOptions().brightness(0.4), gen);
  Tensor ratio = y / x;
  Tensor per_sample = ratio.flatten(1);
  EXPECT_LT((per_sample.amax(1) - per_sample.amin(1)).max().item<float>(), 1e-4);
  Tensor f = per_sample.select(1, 0);
  EXPECT_GE(f.min().item<float>(), 0.6f - 1e-5);
  EXPECT_LE(f.max().item<float>(), 1.4f + 1e-5);
  EXPECT_LT(f.min().item<float>(), 0.65f);  // the whole range is used
  EXPECT_GT(f.max().item<float>(), 1.35f);
}

TEST(ColorJitter, ProbabilityLeavesTheOthersUntouched) {
  Tensor x = random_images(400, 3, 4, 4);
  torch::Generator gen = make_generator(5);
  Tensor y = F::color_jitter(x, A::ColorJitterOptions().brightness(0.4).hue(0.1).p(0.3), gen);
  int64_t untouched = 0;
  for (int64_t i = 0; i < 400; ++i) untouched += y[i].equal(x[i]);
  EXPECT_GT(untouched, 400 * 0.6);
  EXPECT_LT(untouched, 400 * 0.8);
}

TEST(ColorJitter, OrderIsRandomPerSample) {
  // A two-pixel image {1, 0}: contrast first keeps the pixel sum at 1 and a brightness > 1 after
  // it raises the sum above 1; brightness first clips the white pixel at 1, and a contrast < 1
  // after it keeps the sum at exactly 1 with both pixels strictly inside (0, 1). Both must occur.
  Tensor x = torch::tensor({1.0f, 0.0f}).view({1, 1, 1, 2}).expand({2000, 1, 1, 2}).contiguous();
  torch::Generator gen = make_generator(6);
  Tensor y = F::color_jitter(x, A::ColorJitterOptions().brightness(0.9).contrast(0.9), gen);
  Tensor hi = y.flatten(1).select(1, 0), lo = y.flatten(1).select(1, 1), sum = hi + lo;
  Tensor inside = (hi < 0.999) & (lo > 0.001);
  const int64_t contrast_first = ((sum > 1.01) & (hi < 0.999)).sum().item<int64_t>();
  const int64_t brightness_first = (inside & ((sum - 1).abs() < 1e-5)).sum().item<int64_t>();
  EXPECT_GT(contrast_first, 30);  // ~4% and ~12% of the samples
  EXPECT_GT(brightness_first, 100);
}

// The CPU per-sample kernel against the batched tensor path (the one other devices run): same
// draws, same per-sample order, the same values to float rounding; gray pixels, pure colours and
// pixels at 0 / 1 included, where hue and the clamps have their edge cases.
TEST(ColorJitter, PerSampleKernelAgreesWithTensorPath) {
  for (int64_t c : {1, 3}) {
    Tensor x = random_images(300, c, 6, 5);
    x.narrow(0, 0, 20).narrow(2, 0, 2).fill_(0.5);      // gray pixels
    x.narrow(0, 20, 20).narrow(1, 0, 1).fill_(1.0);     // saturated channel
    x.narrow(0, 40, 20).narrow(3, 0, 1).fill_(0.0);
    const Tensor copy = x.clone();
    for (const auto& o : {A::ColorJitterOptions().brightness(0.4).contrast(0.4).saturation(0.4).hue(0.1).p(0.8),
                          A::ColorJitterOptions().brightness(0.9).contrast(0.9).saturation(0.9).hue(0.5).p(1.0),
                          A::ColorJitterOptions().contrast(0.5).hue(0.3).p(0.5)}) {
      torch::Generator g1 = make_generator(30), g2 = make_generator(30);
      Tensor fused = A::detail::color_jitter(x, o, g1, /*inplace=*/false, /*per_sample_kernel=*/true);
      Tensor batched = A::detail::color_jitter(x, o, g2, false, false);
      EXPECT_LT(max_abs_diff(fused, batched), 2e-6) << "c=" << c;
      EXPECT_FALSE(fused.equal(x)) << "nothing was jittered";
      EXPECT_TRUE(x.equal(copy)) << "the input was modified";
      Tensor own = x.clone();
      torch::Generator g3 = make_generator(30);
      Tensor in_place = A::detail::color_jitter(own, o, g3, /*inplace=*/true, true);
      EXPECT_TRUE(in_place.equal(fused));
    }
  }
}

TEST(RandomGrayscale, UsesItuWeightsAndKeepsChannels) {
  Tensor x = random_images(4, 3, 5, 5);
  torch::Generator gen = make_generator(7);
  Tensor y = F::grayscale(x, A::RandomGrayscaleOptions().p(1.0), gen);
  ASSERT_EQ(y.sizes(), x.sizes());
  Tensor expected = x[0][0] * 0.299 + x[0][1] * 0.587 + x[0][2] * 0.114;
  for (int c = 0; c < 3; ++c) EXPECT_LT(max_abs_diff(y[0][c], expected), 1e-6);
  EXPECT_TRUE(F::grayscale(x, A::RandomGrayscaleOptions().p(0.0), gen).equal(x));
  Tensor one = random_images(4, 1, 5, 5);
  EXPECT_TRUE(F::grayscale(one, A::RandomGrayscaleOptions().p(1.0), gen).equal(one));
}

TEST(RandomResizedCrop, ParametersInsideTheImageWithScaleAndRatioInRange) {
  torch::Generator gen = make_generator(8);
  const int64_t n = 4000, h = 28, w = 28;
  auto boxes = A::sample_resized_crop_boxes(n, h, w, {0.2, 1.0}, {3.0 / 4, 4.0 / 3}, gen);
  Tensor top = boxes.top, left = boxes.left, bh = boxes.height, bw = boxes.width;
  EXPECT_TRUE((top >= 0).all().item<bool>());
  EXPECT_TRUE((left >= 0).all().item<bool>());
  EXPECT_TRUE((top + bh <= h).all().item<bool>());
  EXPECT_TRUE((left + bw <= w).all().item<bool>());
  // Rounding to whole pixels moves area and ratio a little: allow half a pixel per side.
  Tensor area = (bh * bw).to(torch::kDouble) / (h * w);
  Tensor ratio = bw.to(torch::kDouble) / bh.to(torch::kDouble);
  Tensor area_lo = (bh - 0.5) * (bw - 0.5) / (h * w), ratio_lo = (bw - 0.5) / (bh + 0.5);
  Tensor area_hi = (bh + 0.5) * (bw + 0.5) / (h * w), ratio_hi = (bw + 0.5) / (bh - 0.5);
  EXPECT_TRUE((area_hi >= 0.2).all().item<bool>());
  EXPECT_TRUE((area <= 1.0).all().item<bool>());
  EXPECT_TRUE((ratio_hi >= 0.75).all().item<bool>());
  EXPECT_TRUE((ratio_lo <= 4.0 / 3).all().item<bool>());
  // The range is covered: small crops, near-full crops, tall and wide crops; offsets vary.
  EXPECT_LT(area.min().item<double>(), 0.23);
  EXPECT_GT(area.max().item<double>(), 0.9);
  EXPECT_LT(ratio.min().item<double>(), 0.8);
  EXPECT_GT(ratio.max().item<double>(), 1.25);
  EXPECT_GT(top.to(torch::kDouble).std().item<double>(), 2.0);
  // Area fractions are uniform over [0.2, 1] for most samples (fallbacks are rare): mean ~0.6
  // minus the tries rejected for not fitting.
  EXPECT_NEAR(area.mean().item<double>(), 0.57, 0.05);
}

TEST(RandomResizedCrop, CentralFallbackWhenNothingFits) {
  torch::Generator gen = make_generator(9);
  // Aspect ratios of 5-6 with 90% of the area never fit a square: torchvision's fallback is the
  // central crop with the ratio clamped: w = 28, h = round(28 / 5) = 6, top = (28 - 6) / 2.
  auto boxes = A::sample_resized_crop_boxes(3, 28, 28, {0.9, 1.0}, {5.0, 6.0}, gen);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(boxes.width[i].item<int64_t>(), 28);
    EXPECT_EQ(boxes.height[i].item<int64_t>(), 6);
    EXPECT_EQ(boxes.top[i].item<int64_t>(), 11);
    EXPECT_EQ(boxes.left[i].item<int64_t>(), 0);
  }
}

TEST(RandomResizedCrop, FullImageCropOfTheSameSizeIsIdentity) {
  Tensor x = random_images(3, 3, 10, 10);
  auto full = torch::zeros({3}, torch::kLong), side = torch::full({3}, 10, torch::kLong);
  EXPECT_LT(max_abs_diff(F::resized_crop(x, full, full, side, side, {10, 10}), x), 1e-5);
  // Flipping in the same pass equals flipping afterwards.
  Tensor flip = torch::tensor({true, false, true});
  Tensor y = F::resized_crop(x, full, full, side, side, {10, 10}, flip);
  EXPECT_LT(max_abs_diff(y[0], x[0].flip(2)), 1e-5);
  EXPECT_LT(max_abs_diff(y[1], x[1]), 1e-5);
  // scale = ratio = 1 always picks the whole image.
  torch::Generator gen = make_generator(10);
  auto o = A::RandomResizedCropOptions(10).scale({1.0, 1.0}).ratio({1.0, 1.0});
  EXPECT_LT(max_abs_diff(F::random_resized_crop(x, o, gen), x), 1e-5);
}

TEST(RandomResizedCrop, OutputSizeAndRange) {
  for (int64_t c : {1, 3}) {
    Tensor x = random_images(8, c, 28, 28);
    torch::Generator gen = make_generator(11);
    Tensor y = F::random_resized_crop(x, A::RandomResizedCropOptions({16, 20}), gen);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{8, c, 16, 20}));
    EXPECT_GE(y.min().item<float>(), 0.0f);
    EXPECT_LE(y.max().item<float>(), 1.0f);
  }
}

TEST(RandomCrop, NoPaddingIsIdentityAndPaddedCropsAreShiftedPaddedImages) {
  Tensor x = random_images(20, 3, 8, 8);
  torch::Generator gen = make_generator(12);
  EXPECT_TRUE(F::random_crop(x, A::RandomCropOptions().padding(0), gen).equal(x));
  const int64_t pad = 2;
  namespace nnf = torch::nn::functional;
  // Each output must be one of the (2 pad + 1)^2 crops of the padded image, and most not the
  // central one.
  for (auto [mode, torch_mode] :
       {std::pair<std::string, nnf::PadFuncOptions::mode_t>{"reflect", torch::kReflect},
        {"edge", torch::kReplicate}}) {
    Tensor y = F::random_crop(x, A::RandomCropOptions().padding(pad).padding_mode(mode), gen);
    ASSERT_EQ(y.sizes(), x.sizes());
    Tensor padded = nnf::pad(x, nnf::PadFuncOptions({pad, pad, pad, pad}).mode(torch_mode));
    int64_t moved = 0;
    for (int64_t i = 0; i < 20; ++i) {
      bool found = false;
      for (int64_t dy = 0; dy <= 2 * pad && !found; ++dy) {
        for (int64_t dx = 0; dx <= 2 * pad && !found; ++dx) {
          if (padded[i].narrow(1, dy, 8).narrow(2, dx, 8).equal(y[i])) {
            found = true;
            moved += dy != pad || dx != pad;
          }
        }
      }
      EXPECT_TRUE(found) << "sample " << i << " is no crop of the " << mode << "-padded image";
    }
    EXPECT_GT(moved, 10) << mode;
  }
}

TEST(RandomCrop, DefaultPaddingIsAnEighthOfTheSide) {
  // A constant fill marks the padding: at most 4 rows/cols of it for 32 px, 3 for 28 px.
  for (auto [side, pad] : {std::pair<int64_t, int64_t>{32, 4}, {28, 3}}) {
    Tensor x = torch::full({300, 1, side, side}, 0.5f);
    torch::Generator gen = make_generator(13);
    auto o = A::RandomCropOptions().padding_mode("constant").fill(0.0);
    Tensor zero_rows = (F::random_crop(x, o, gen) == 0).all(3).sum(2);  // [300, 1]
    EXPECT_EQ(zero_rows.max().item<int64_t>(), pad) << side;
  }
}

TEST(GaussianBlur, ConstantImageUnchangedAndSmoothingReducesVariance) {
  torch::Generator gen = make_generator(14);
  Tensor flat = torch::full({3, 3, 9, 9}, 0.3f);
  auto o = A::GaussianBlurOptions(5).p(1.0);
  EXPECT_LT(max_abs_diff(F::gaussian_blur(flat, o, gen), flat), 1e-6);
  Tensor x = random_images(3, 1, 16, 16);
  Tensor y = F::gaussian_blur(x, o.sigma({1.0, 2.0}), gen);
  EXPECT_LT(y.var().item<float>(), x.var().item<float>() * 0.5f);
  EXPECT_NEAR(y.mean().item<float>(), x.mean().item<float>(), 0.02);
}

TEST(Solarize, InvertsAboveTheThreshold) {
  Tensor x = torch::tensor({0.1f, 0.49f, 0.5f, 0.9f}).view({1, 1, 1, 4});
  torch::Generator gen = make_generator(15);
  Tensor y = F::solarize(x, A::SolarizeOptions().p(1.0), gen);
  EXPECT_LT(max_abs_diff(y, torch::tensor({0.1f, 0.49f, 0.5f, 0.1f}).view({1, 1, 1, 4})), 1e-6);
}

TEST(Cutout, FillsASquareOfTheRightSize) {
  Tensor x = torch::zeros({200, 3, 32, 32});
  torch::Generator gen = make_generator(16);
  Tensor y = F::cutout(x, A::CutoutOptions().size(0.25).fill(0.5), gen);  // 8 px
  int64_t full_squares = 0;
  for (int64_t i = 0; i < 200; ++i) {
    Tensor filled = (y[i][0] == 0.5f);
    EXPECT_TRUE(y[i][1].equal(y[i][0]) && y[i][2].equal(y[i][0]));
    EXPECT_TRUE(((y[i][0] == 0) | filled).all().item<bool>());
    Tensor rows = filled.any(1).nonzero(), cols = filled.any(0).nonzero();
    const int64_t nr = rows.size(0), nc = cols.size(0);
    ASSERT_GT(nr * nc, 0);
    EXPECT_EQ(filled.sum().item<int64_t>(), nr * nc) << "not a rectangle";
    EXPECT_LE(nr, 8);
    EXPECT_LE(nc, 8);
    // Clipped only at the bottom/right edges (USB's CutoutAbs).
    if (nr < 8) {
      EXPECT_EQ(rows.max().item<int64_t>(), 31);
    }
    if (nc < 8) {
      EXPECT_EQ(cols.max().item<int64_t>(), 31);
    }
    full_squares += nr == 8 && nc == 8;
  }
  EXPECT_GT(full_squares, 100);
}

TEST(Normalize, PerChannelAndBroadcast) {
  Tensor x = random_images(2, 3, 4, 4);
  torch::Generator gen = make_generator(17);
  Tensor y = F::normalize(x, A::NormalizeOptions({0.1, 0.2, 0.3}, {0.5, 0.25, 2.0}), gen);
  EXPECT_LT(max_abs_diff(y.select(1, 1), (x.select(1, 1) - 0.2) / 0.25), 1e-5);
  EXPECT_LT(max_abs_diff(F::normalize(x, A::NormalizeOptions({0.5}, {0.5}), gen), x * 2 - 1), 1e-6);
  EXPECT_THROW(F::normalize(x, A::NormalizeOptions({0.1, 0.2}, {1.0, 1.0}), gen), c10::Error);
}

TEST(RandAugment, KeepsShapeAndRangeOnOneAndThreeChannels) {
  for (int64_t c : {1, 3}) {
    Tensor x = random_images(64, c, 12, 12);
    Tensor copy = x.clone();
    torch::Generator gen = make_generator(18);
    Tensor y = F::randaugment(x, A::RandAugmentOptions().n(3), gen);
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_GE(y.min().item<float>(), 0.0f);
    EXPECT_LE(y.max().item<float>(), 1.0f);
    EXPECT_TRUE(x.equal(copy));
    EXPECT_GT(max_abs_diff(y, x), 0.1f);
  }
}

TEST(RandAugment, EveryOpAloneKeepsShapeAndRange) {
  for (const std::string& op : A::randaugment_op_names()) {
    for (int64_t c : {1, 3}) {
      Tensor x = random_images(16, c, 10, 10);
      torch::Generator gen = make_generator(19);
      Tensor y = F::randaugment(x, A::RandAugmentOptions().n(1).ops({op}), gen);
      EXPECT_EQ(y.sizes(), x.sizes()) << op;
      EXPECT_GE(y.min().item<float>(), 0.0f) << op;
      EXPECT_LE(y.max().item<float>(), 1.0f) << op;
      EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << op;
    }
  }
  torch::Generator gen = make_generator(20);
  EXPECT_THROW(
      F::randaugment(random_images(2, 3, 8, 8), A::RandAugmentOptions().ops({"warp"}), gen),
      c10::Error);
}

namespace {
// Every random op, each with probability 1 where it has one.
std::vector<A::TransformPtr> all_transforms(int64_t size) {
  return {std::make_shared<A::RandomResizedCrop>(A::RandomResizedCropOptions(size).scale({0.2, 1})),
          std::make_shared<A::RandomCrop>(A::RandomCropOptions()),
          std::make_shared<A::HorizontalFlip>(A::HorizontalFlipOptions().p(0.5)),
          std::make_shared<A::ColorJitter>(
              A::ColorJitterOptions().brightness(0.8).contrast(0.8).saturation(0.8).hue(0.2)),
          std::make_shared<A::RandomGrayscale>(A::RandomGrayscaleOptions().p(0.5)),
          std::make_shared<A::GaussianBlur>(A::GaussianBlurOptions(3).p(0.5)),
          std::make_shared<A::Solarize>(A::SolarizeOptions().p(0.5)),
          std::make_shared<A::Cutout>(A::CutoutOptions().size(0.3).p(0.5)),
          std::make_shared<A::RandAugment>(A::RandAugmentOptions())};
}
}  // namespace

TEST(Transforms, OutputsStayInRangeAndInputIsNeverModified) {
  for (int64_t c : {1, 3}) {
    Tensor x = random_images(32, c, 16, 16);
    Tensor copy = x.clone();
    torch::Generator gen = make_generator(21);
    for (const auto& t : all_transforms(16)) {
      Tensor y = (*t)(x, gen);
      EXPECT_EQ(y.sizes(), x.sizes()) << t->name();
      EXPECT_GE(y.min().item<float>(), 0.0f) << t->name() << " c=" << c;
      EXPECT_LE(y.max().item<float>(), 1.0f) << t->name() << " c=" << c;
      EXPECT_TRUE(x.equal(copy)) << t->name() << " modified its input";
    }
  }
}

TEST(Transforms, SameSeedSameOutputDifferentSeedDifferent) {
  Tensor x = random_images(16, 3, 16, 16);
  for (const auto& t : all_transforms(16)) {
    torch::Generator g1 = make_generator(5), g2 = make_generator(5), g3 = make_generator(6);
    Tensor a = (*t)(x, g1), b = (*t)(x, g2), c = (*t)(x, g3);
    EXPECT_TRUE(a.equal(b)) << t->name();
    EXPECT_FALSE(a.equal(c)) << t->name();
  }
}

TEST(Transforms, InplaceGivesTheSameResult) {
  Tensor x = random_images(32, 3, 16, 16);
  for (const auto& t : all_transforms(16)) {
    torch::Generator g1 = make_generator(9), g2 = make_generator(9);
    Tensor a = t->apply(x, g1, false);
    Tensor scratch = x.clone();
    Tensor b = t->apply(scratch, g2, true);
    EXPECT_TRUE(a.equal(b)) << t->name();
  }
}

TEST(Transforms, OptionsAreValidated) {
  EXPECT_THROW(A::HorizontalFlip(A::HorizontalFlipOptions().p(1.5)), c10::Error);
  EXPECT_THROW(A::ColorJitter(A::ColorJitterOptions().hue(0.7)), c10::Error);
  EXPECT_THROW(A::ColorJitter(A::ColorJitterOptions().brightness(-1)), c10::Error);
  EXPECT_THROW(A::RandomResizedCrop(A::RandomResizedCropOptions(8).scale({0.9, 0.1})), c10::Error);
  EXPECT_THROW(A::GaussianBlur(A::GaussianBlurOptions(4)), c10::Error);
  EXPECT_THROW(A::RandomCrop(A::RandomCropOptions().padding_mode("wrap")), c10::Error);
  EXPECT_THROW(A::Cutout(A::CutoutOptions().size(2)), c10::Error);
  try {
    A::Solarize(A::SolarizeOptions().threshold(3));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("threshold"), std::string::npos) << e.what();
  }
}
