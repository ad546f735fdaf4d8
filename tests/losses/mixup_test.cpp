#include "selfsup/losses/mixup.h"

#include <gtest/gtest.h>

#include <set>

#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

TEST(MixUp, MatchesLoopReferenceWithItsLamAndPartners) {
  const auto x = T::randn64({6, 2, 3}, 1), y = torch::softmax(T::randn64({6, 4}, 2), 1);
  auto gen = at::detail::createCPUGenerator(3);
  const auto out = F::mixup(x, y, {}, gen);
  const auto perm = out.permutation;
  ASSERT_EQ(perm.sizes(), torch::IntArrayRef({6}));
  std::set<int64_t> partners;
  for (int64_t i = 0; i < 6; ++i) partners.insert(perm[i].item<int64_t>());
  EXPECT_EQ(partners.size(), 6u) << "not a permutation";
  const T::Rows xs = T::to_rows(x.view({6, -1})), ys = T::to_rows(y);
  const T::Rows mx = T::to_rows(out.inputs.view({6, -1})), my = T::to_rows(out.targets);
  for (size_t i = 0; i < 6; ++i) {
    const size_t j = static_cast<size_t>(perm[i].item<int64_t>());
    for (size_t k = 0; k < xs[i].size(); ++k)
      EXPECT_NEAR(mx[i][k], out.lam * xs[i][k] + (1 - out.lam) * xs[j][k], 1e-14);
    for (size_t k = 0; k < ys[i].size(); ++k)
      EXPECT_NEAR(my[i][k], out.lam * ys[i][k] + (1 - out.lam) * ys[j][k], 1e-14);
  }
  // Mixed soft targets stay distributions.
  EXPECT_TRUE(torch::allclose(out.targets.sum(1), torch::ones({6}, torch::kFloat64)));
}

TEST(MixUp, LamIsTheLargerOfLamAndOneMinusLam) {
  const auto x = T::randn64({4, 3}, 4), y = T::randn64({4, 2}, 5);
  int below_half = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    // The same generator state with and without the bias draws the same lam and permutation.
    auto g1 = at::detail::createCPUGenerator(seed), g2 = at::detail::createCPUGenerator(seed);
    const auto plain = F::mixup(x, y, F::MixUpOptions().bias_to_first(false), g1);
    const auto biased = F::mixup(x, y, {}, g2);
    EXPECT_DOUBLE_EQ(biased.lam, std::max(plain.lam, 1 - plain.lam)) << seed;
    EXPECT_GE(biased.lam, 0.5);
    EXPECT_LE(biased.lam, 1.0);
    EXPECT_TRUE(torch::equal(plain.permutation, biased.permutation));
    below_half += plain.lam < 0.5;
  }
  EXPECT_GT(below_half, 50) << "plain lam should fall below 1/2 about half the time";
  EXPECT_LT(below_half, 150);
}

TEST(MixUp, BetaDrawsHaveBetaMoments) {
  // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)); 20000 draws, ~6 standard errors of slack.
  auto gen = at::detail::createCPUGenerator(6);
  for (double a : {0.75, 2.0}) {
    double sum = 0, sq = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const double b = F::sample_beta(a, gen);
      ASSERT_GE(b, 0.0);
      ASSERT_LE(b, 1.0);
      sum += b;
      sq += b * b;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.015) << "a " << a;
    EXPECT_NEAR(var, 1 / (4 * (2 * a + 1)), 0.01) << "a " << a;
  }
}

TEST(MixUp, AlphaZeroDoesNotMixAndBadArgumentsAreRejected) {
  const auto x = T::randn64({5, 3}, 7), y = T::randn64({5, 2}, 8);
  auto gen = at::detail::createCPUGenerator(9);
  const auto out = F::mixup(x, y, F::MixUpOptions().alpha(0), gen);
  EXPECT_EQ(out.lam, 1.0);
  EXPECT_TRUE(torch::equal(out.inputs, x));
  EXPECT_DOUBLE_EQ(F::MixUpOptions().alpha(), 0.75);
  T::expect_error_mentions([&] { F::mixup(x, y, F::MixUpOptions().alpha(-1), gen); },
                           {"mixup", "alpha", "-1"});
  T::expect_error_mentions([&] { F::mixup(x, y.narrow(0, 0, 4), {}, gen); },
                           {"mixup", "y", "5", "[4, 2]"});
  T::expect_error_mentions([&] { F::mixup(x, y.to(torch::kLong), {}, gen); },
                           {"mixup", "floating-point", "Long"});
  T::expect_error_mentions([&] { F::sample_beta(0, gen); }, {"sample_beta", "a", "0"});
}
