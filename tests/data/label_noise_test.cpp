#include "selfsup/data/label_noise.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/error_of.h"

using namespace selfsup::data;

namespace {

torch::Tensor balanced_labels(int64_t n, int64_t classes) { return torch::arange(n, torch::kLong).remainder(classes); }

}  // namespace

TEST(LabelNoise, NoneOrRateZeroLeavesTheLabels) {
  const auto y = balanced_labels(1000, 10);
  EXPECT_TRUE(torch::equal(corrupt_labels(y, 10, LabelNoiseOptions()), y));
  EXPECT_TRUE(torch::equal(corrupt_labels(y, 10, LabelNoiseOptions().type(LabelNoise::kSymmetric).rate(0)), y));
}

// Symmetric: each label is corrupted with probability rate, to one of the other classes uniformly.
TEST(LabelNoise, SymmetricFollowsItsTransitionMatrix) {
  const int64_t n = 200000, c = 10;
  const auto y = balanced_labels(n, c);
  const auto z = corrupt_labels(y, c, LabelNoiseOptions().type(LabelNoise::kSymmetric).rate(0.5).seed(3));
  const auto flipped = z.ne(y);
  EXPECT_NEAR(flipped.to(torch::kFloat64).mean().item<double>(), 0.5, 0.005);
  // Transition counts T[y][z] / count(y): 0.5 on the diagonal, 0.5 / 9 elsewhere.
  const auto t = torch::bincount(y * c + z, {}, c * c).reshape({c, c}).to(torch::kFloat64) / (n / c);
  for (int64_t a = 0; a < c; ++a) {
    for (int64_t b = 0; b < c; ++b) {
      EXPECT_NEAR(t[a][b].item<double>(), a == b ? 0.5 : 0.5 / 9, 0.01) << a << " -> " << b;
    }
  }
}

// Pair-flip: a corrupted label is always the next class.
TEST(LabelNoise, PairFlipGoesToTheNextClass) {
  const int64_t n = 100000, c = 10;
  const auto y = balanced_labels(n, c);
  const auto z = corrupt_labels(y, c, LabelNoiseOptions().type(LabelNoise::kPairFlip).rate(0.45).seed(4));
  const auto flipped = z.ne(y);
  EXPECT_NEAR(flipped.to(torch::kFloat64).mean().item<double>(), 0.45, 0.006);
  EXPECT_TRUE(torch::equal(z.masked_select(flipped), (y + 1).remainder(c).masked_select(flipped)));
}

TEST(LabelNoise, SameSeedSameLabelsOtherSeedOthers) {
  const auto y = balanced_labels(5000, 10);
  auto o = LabelNoiseOptions().type(LabelNoise::kSymmetric).rate(0.2);
  EXPECT_TRUE(torch::equal(corrupt_labels(y, 10, o.seed(1)), corrupt_labels(y, 10, o.seed(1))));
  EXPECT_FALSE(torch::equal(corrupt_labels(y, 10, o.seed(1)), corrupt_labels(y, 10, o.seed(2))));
}

TEST(LabelNoise, BadSettingsAreNamed) {
  const auto y = balanced_labels(100, 10);
  using selfsup::testing::error_of;
  EXPECT_NE(error_of([&] { label_noise_from_name("uniform"); }).find("data.label_noise must be none, symmetric or pairflip, got 'uniform'"),
            std::string::npos);
  for (double r : {-0.1, 1.0, 1.5}) {
    EXPECT_NE(error_of([&] { corrupt_labels(y, 10, LabelNoiseOptions().type(LabelNoise::kSymmetric).rate(r)); })
                  .find("data.noise_rate must be in [0, 1)"),
              std::string::npos);
  }
  EXPECT_NE(error_of([&] { corrupt_labels(y, 5, LabelNoiseOptions().type(LabelNoise::kPairFlip).rate(0.2)); })
                .find("labels must be in [0, 5)"),
            std::string::npos);
  for (auto t : {LabelNoise::kNone, LabelNoise::kSymmetric, LabelNoise::kPairFlip}) {
    EXPECT_EQ(label_noise_from_name(label_noise_name(t)), t);
  }
}
