#include "selfsup/losses/vicreg.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

struct Terms {
  double invariance = 0, variance = 0, covariance = 0;
};

// Variance hinge and covariance penalty of one view, unbiased (N - 1) statistics.
std::pair<double, double> regularizer_loops(const T::Rows& z, double eps) {
  const size_t n = z.size(), d = z[0].size();
  T::Row mean(d, 0.0);
  for (size_t j = 0; j < d; ++j) {
    for (size_t i = 0; i < n; ++i) mean[j] += z[i][j] / n;
  }
  double hinge = 0, cov_penalty = 0;
  for (size_t a = 0; a < d; ++a) {
    for (size_t b = 0; b < d; ++b) {
      double cov = 0;
      for (size_t i = 0; i < n; ++i) cov += (z[i][a] - mean[a]) * (z[i][b] - mean[b]) / (n - 1);
      if (a == b) {
        hinge += std::max(0.0, 1 - std::sqrt(cov + eps)) / d;
      } else {
        cov_penalty += cov * cov / d;
      }
    }
  }
  return {hinge, cov_penalty};
}

Terms vicreg_loops(const torch::Tensor& z1, const torch::Tensor& z2, double eps = 1e-4) {
  const T::Rows a = T::to_rows(z1), b = T::to_rows(z2);
  Terms t;
  const double count = static_cast<double>(a.size() * a[0].size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[0].size(); ++j) t.invariance += std::pow(a[i][j] - b[i][j], 2) / count;
  }
  const auto [var_a, cov_a] = regularizer_loops(a, eps);
  const auto [var_b, cov_b] = regularizer_loops(b, eps);
  t.variance = (var_a + var_b) / 2;
  t.covariance = cov_a + cov_b;
  return t;
}

}  // namespace

TEST(VICReg, MatchesLoopReference) {
  // Features with standard deviation around 0.5 and 2 so that the hinge is active for some.
  const auto scale = torch::tensor({0.5, 2.0, 0.3, 1.5, 0.8}, torch::kFloat64);
  const auto z1 = T::randn64({8, 5}, 1) * scale, z2 = T::randn64({8, 5}, 2) * scale + 0.3;
  const Terms ref = vicreg_loops(z1, z2);
  const auto out = F::vicreg_loss(z1, z2);
  EXPECT_NEAR(T::value(out.invariance), ref.invariance, 1e-10);
  EXPECT_NEAR(T::value(out.variance), ref.variance, 1e-10);
  EXPECT_NEAR(T::value(out.covariance), ref.covariance, 1e-10);
  EXPECT_NEAR(T::value(out.loss), 25 * ref.invariance + 25 * ref.variance + ref.covariance, 1e-9);
  const auto weighted = F::vicreg_loss(
      z1, z2, F::VICRegOptions().sim_weight(2).var_weight(3).cov_weight(0.5).eps(1e-2));
  const Terms ref2 = vicreg_loops(z1, z2, 1e-2);
  EXPECT_NEAR(T::value(weighted.loss),
              2 * ref2.invariance + 3 * ref2.variance + 0.5 * ref2.covariance, 1e-9);
}

TEST(VICReg, HandMadeInputs) {
  // z1: two samples, features (1, 2) and (-1, -2): unbiased variances 2 and 8 (std > 1, no
  // hinge), covariance 4 on both off-diagonal entries. z2: all zeros, so std = sqrt(eps).
  const auto z1 = torch::tensor({1., 2., -1., -2.}, torch::kFloat64).view({2, 2});
  const auto z2 = torch::zeros({2, 2}, torch::kFloat64);
  const auto out = F::vicreg_loss(z1, z2);
  const double invariance = (1 + 4 + 1 + 4) / 4.0;
  const double variance = (0 + (1 - std::sqrt(1e-4))) / 2;
  const double covariance = 2 * 4.0 * 4.0 / 2 + 0;
  EXPECT_NEAR(T::value(out.invariance), invariance, 1e-12);
  EXPECT_NEAR(T::value(out.variance), variance, 1e-12);
  EXPECT_NEAR(T::value(out.covariance), covariance, 1e-12);
  EXPECT_NEAR(T::value(out.loss), 25 * invariance + 25 * variance + covariance, 1e-10);
}

TEST(VICReg, SymmetricInTheViews) {
  const auto z1 = T::randn64({6, 4}, 3) * 0.7, z2 = T::randn64({6, 4}, 4) * 1.3;
  const auto a = F::vicreg_loss(z1, z2), b = F::vicreg_loss(z2, z1);
  EXPECT_NEAR(T::value(a.loss), T::value(b.loss), 1e-12);
  EXPECT_NEAR(T::value(a.variance), T::value(b.variance), 1e-12);
}

TEST(VICReg, InvariantToACommonShift) {
  // Adding the same vector to every embedding of both views changes no difference and no
  // (co)variance.
  const auto z1 = T::randn64({6, 4}, 5) * 0.6, z2 = T::randn64({6, 4}, 6);
  const auto shift = T::randn64({1, 4}, 7) * 5;
  EXPECT_NEAR(T::value(F::vicreg_loss(z1 + shift, z2 + shift).loss),
              T::value(F::vicreg_loss(z1, z2).loss), 1e-10);
}

TEST(VICReg, GradientMatchesFiniteDifferences) {
  auto z1 = (T::randn64({4, 5}, 8) * 0.5).requires_grad_();
  auto z2 = (T::randn64({4, 5}, 9) * 0.5).requires_grad_();
  const auto r =
      T::gradcheck([](const auto& in) { return F::vicreg_loss(in[0], in[1]).loss; }, {z1, z2});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(VICReg, ModuleMatchesFunctional) {
  const auto z1 = T::randn64({4, 3}, 10), z2 = T::randn64({4, 3}, 11);
  const auto options = selfsup::losses::VICRegOptions().sim_weight(10);
  selfsup::losses::VICRegLoss loss(options);
  EXPECT_DOUBLE_EQ(T::value(loss(z1, z2).loss), T::value(F::vicreg_loss(z1, z2, options).loss));
}

TEST(VICReg, RejectsBadArguments) {
  const auto z = T::randn64({4, 3}, 12);
  T::expect_error_mentions([&] { F::vicreg_loss(z.narrow(0, 0, 1), z.narrow(0, 0, 1)); },
                           {"vicreg_loss", "z1", "[1, 3]"});
  T::expect_error_mentions([&] { F::vicreg_loss(z, z, F::VICRegOptions().var_weight(-3)); },
                           {"var_weight", "-3"});
  T::expect_error_mentions([&] { F::vicreg_loss(z, z, F::VICRegOptions().eps(0)); }, {"eps"});
  T::expect_error_mentions([&] { F::vicreg_loss(z, z.t()); }, {"z1", "z2", "[3, 4]"});
}
