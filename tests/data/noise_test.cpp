#include "selfsup/data/noise.h"

#include <gtest/gtest.h>

#include "selfsup/core/runtime.h"
#include "support/error_of.h"

namespace D = selfsup::data;

TEST(Noise, GaussianHasTheGivenSigmaAndIsSeeded) {
  const auto clean = torch::full({4, 1, 128, 128}, 0.5);
  auto gen = selfsup::make_generator(1);
  const auto noisy = D::add_noise(clean, D::NoiseOptions().sigma_min(25).sigma_max(25), gen);
  const auto e = (noisy - clean) * 255;
  EXPECT_NEAR(e.mean().item<double>(), 0.0, 0.2);
  EXPECT_NEAR(e.std().item<double>(), 25.0, 0.2);
  auto gen2 = selfsup::make_generator(1);
  EXPECT_TRUE(torch::equal(D::add_noise(clean, D::NoiseOptions(), gen2), noisy));
  // Not clipped: zero-mean noise on black pixels too, as Noise2Noise's targets need.
  EXPECT_LT(D::add_noise(torch::zeros({1, 1, 16, 16}), D::NoiseOptions(), gen).min().item<double>(), 0.0);
}

TEST(Noise, BlindSigmaIsDrawnPerImageWithinTheRange) {
  const auto clean = torch::zeros({64, 1, 64, 64});
  auto gen = selfsup::make_generator(2);
  const auto noisy = D::add_noise(clean, D::NoiseOptions().sigma_min(5).sigma_max(50), gen);
  const auto sd = noisy.flatten(1).std(1) * 255;
  EXPECT_GT(sd.min().item<double>(), 5 * 0.9);
  EXPECT_LT(sd.max().item<double>(), 50 * 1.1);
  EXPECT_GT((sd.max() - sd.min()).item<double>(), 20);  // really different per image
}

TEST(Noise, PoissonHasMeanXAndVarianceXOverPeak) {
  const auto clean = torch::full({1, 1, 256, 256}, 0.4);
  auto gen = selfsup::make_generator(3);
  const auto noisy = D::add_noise(clean, D::NoiseOptions().type(D::NoiseType::kPoisson).peak(30), gen);
  EXPECT_NEAR(noisy.mean().item<double>(), 0.4, 0.005);
  EXPECT_NEAR(noisy.var().item<double>(), 0.4 / 30, 0.0005);
}

TEST(Noise, ConfigReadsANumberARangeOrPoissonAndRefusesBadValues) {
  auto o = D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {type: gaussian, sigma: [5, 50]}}"));
  EXPECT_EQ(o.sigma_min(), 5);
  EXPECT_EQ(o.sigma_max(), 50);
  EXPECT_EQ(o.describe(), "gaussian sigma 5-50");
  EXPECT_EQ(D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {sigma: 25}}")).describe(), "gaussian sigma 25");
  EXPECT_EQ(D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {type: poisson, peak: 10}}")).describe(),
            "poisson peak 10");
  using selfsup::testing::error_of;
  EXPECT_NE(error_of([] { D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {type: speckle}}")); })
                .find("noise.type must be gaussian or poisson, got 'speckle'"),
            std::string::npos);
  EXPECT_NE(error_of([] { D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {sigma: -3}}")); })
                .find("noise.sigma must be"),
            std::string::npos);
  EXPECT_NE(error_of([] { D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {sigma: [9, 2]}}")); })
                .find("noise.sigma must be"),
            std::string::npos);
  EXPECT_NE(error_of([] { D::NoiseOptions::from_config(selfsup::Config::parse("{noise: {type: poisson, peak: 0}}")); })
                .find("noise.peak must be positive, got 0"),
            std::string::npos);
}
