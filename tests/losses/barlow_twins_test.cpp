#include "selfsup/losses/barlow_twins.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// Each column standardized with the biased batch variance, eps inside the square root.
T::Rows standardize_loops(const T::Rows& z, double eps) {
  const size_t n = z.size(), d = z[0].size();
  T::Rows out(n, T::Row(d));
  for (size_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; ++i) mean += z[i][j] / n;
    for (size_t i = 0; i < n; ++i) var += (z[i][j] - mean) * (z[i][j] - mean) / n;
    for (size_t i = 0; i < n; ++i) out[i][j] = (z[i][j] - mean) / std::sqrt(var + eps);
  }
  return out;
}

double barlow_loops(const torch::Tensor& z1, const torch::Tensor& z2, double lambda, double scale,
                    double eps = 1e-5) {
  const T::Rows a = standardize_loops(T::to_rows(z1), eps),
                b = standardize_loops(T::to_rows(z2), eps);
  const size_t n = a.size(), d = a[0].size();
  double loss = 0;
  for (size_t i = 0; i < d; ++i) {
    for (size_t j = 0; j < d; ++j) {
      double c = 0;
      for (size_t s = 0; s < n; ++s) c += a[s][i] * b[s][j] / n;
      loss += i == j ? (1 - c) * (1 - c) : lambda * c * c;
    }
  }
  return scale * loss;
}

// Columns of a 4x4 Hadamard matrix without the constant one: zero mean, unit biased variance,
// mutually orthogonal, i.e. perfectly standardized and decorrelated features.
torch::Tensor hadamard_features() {
  return torch::tensor({1., 1., 1., -1., 1., -1., 1., -1., -1., -1., -1., 1.}, torch::kFloat64)
      .view({4, 3});
}

}  // namespace

TEST(BarlowTwins, MatchesLoopReference) {
  const auto z1 = T::randn64({8, 5}, 1) * 3 + 1, z2 = T::randn64({8, 5}, 2);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z1, z2)), barlow_loops(z1, z2, 0.0051, 1.0), 1e-10);
  const auto options = F::BarlowTwinsOptions().lambda(0.3).scale(0.1).eps(1e-3);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z1, z2, options)), barlow_loops(z1, z2, 0.3, 0.1, 1e-3),
              1e-10);
}

TEST(BarlowTwins, StandardizesAsBatchNorm1dWithoutAffine) {
  const auto z1 = T::randn64({6, 4}, 3) * 2 - 1, z2 = T::randn64({6, 4}, 4);
  torch::nn::BatchNorm1d bn(torch::nn::BatchNorm1dOptions(4).affine(false));
  bn->to(torch::kFloat64);
  bn->train();
  const auto c = bn(z1).t().mm(bn(z2)) / 6.0;
  const auto off = c.pow(2).sum() - c.diagonal().pow(2).sum();
  const double expected = T::value((1 - c.diagonal()).pow(2).sum() + 0.0051 * off);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z1, z2)), expected, 1e-10);
}

TEST(BarlowTwins, ClosedForms) {
  const double eps = 1e-5, lambda = 0.2;
  const auto z = hadamard_features();
  const auto options = F::BarlowTwinsOptions().lambda(lambda);
  // Identical decorrelated views: C = I / (1 + eps), so the loss is 3 (eps / (1 + eps))^2 ~ 0.
  const double shrink = 1 / (1 + eps);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z, z.clone(), options)), 3 * std::pow(1 - shrink, 2),
              1e-15);
  // Second view with its first two features swapped: C_00 = C_11 = 0, C_01 = C_10 = shrink.
  const auto swapped = z.index_select(1, torch::tensor({1, 0, 2}));
  const double expected = 2 + std::pow(1 - shrink, 2) + lambda * 2 * shrink * shrink;
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z, swapped, options)), expected, 1e-12);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z, swapped, F::BarlowTwinsOptions(options).scale(0.1))),
              0.1 * expected, 1e-12);
}

TEST(BarlowTwins, SymmetricInTheViews) {
  const auto z1 = T::randn64({6, 5}, 5), z2 = T::randn64({6, 5}, 6);
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z1, z2)), T::value(F::barlow_twins_loss(z2, z1)),
              1e-12);
}

TEST(BarlowTwins, InvariantToPerFeatureAffineMaps) {
  // Batch standardization removes any per-feature shift and positive scale (up to eps).
  const auto z1 = T::randn64({6, 4}, 7), z2 = T::randn64({6, 4}, 8);
  const auto options = F::BarlowTwinsOptions().eps(1e-14);
  const auto a = T::uniform64({1, 4}, 0.2, 5, 9), b = T::randn64({1, 4}, 10) * 10;
  EXPECT_NEAR(T::value(F::barlow_twins_loss(z1 * a + b, z2 - b, options)),
              T::value(F::barlow_twins_loss(z1, z2, options)), 1e-10);
}

TEST(BarlowTwins, GradientMatchesFiniteDifferences) {
  auto z1 = T::randn64({4, 5}, 11).requires_grad_();
  auto z2 = T::randn64({4, 5}, 12).requires_grad_();
  const auto r = T::gradcheck(
      [](const auto& in) {
        return F::barlow_twins_loss(in[0], in[1], F::BarlowTwinsOptions().lambda(0.1));
      },
      {z1, z2});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(BarlowTwins, ModuleMatchesFunctional) {
  const auto z1 = T::randn64({4, 3}, 13), z2 = T::randn64({4, 3}, 14);
  const auto options = selfsup::losses::BarlowTwinsOptions().lambda(0.01).scale(0.1);
  selfsup::losses::BarlowTwinsLoss loss(options);
  EXPECT_DOUBLE_EQ(T::value(loss(z1, z2)), T::value(F::barlow_twins_loss(z1, z2, options)));
}

TEST(BarlowTwins, RejectsBadArguments) {
  const auto z = T::randn64({4, 3}, 15);
  T::expect_error_mentions([&] { F::barlow_twins_loss(z.narrow(0, 0, 1), z.narrow(0, 0, 1)); },
                           {"barlow_twins_loss", "z1", "2 rows", "[1, 3]"});
  T::expect_error_mentions([&] { F::barlow_twins_loss(z, z, F::BarlowTwinsOptions().lambda(-1)); },
                           {"lambda", "-1"});
  T::expect_error_mentions([&] { F::barlow_twins_loss(z, z, F::BarlowTwinsOptions().scale(0)); },
                           {"scale", "0"});
  T::expect_error_mentions([&] { F::barlow_twins_loss(z, z, F::BarlowTwinsOptions().eps(0)); },
                           {"eps"});
  T::expect_error_mentions(
      [&] {
        F::barlow_twins_loss(z, T::randn64({5, 3}, 1));
      },
      {"z1", "z2", "[5, 3]"});
}
