#include "selfsup/losses/nt_xent.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// Literal NT-Xent: for each of the 2N anchors, -log softmax over every other anchor, read at the
// other view of the same image.
double nt_xent_loops(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  T::Rows z = T::to_rows(z1);
  for (const auto& r : T::to_rows(z2)) z.push_back(r);
  const size_t m = z.size(), n = m / 2;
  double total = 0;
  for (size_t a = 0; a < m; ++a) {
    double denom = 0;
    for (size_t b = 0; b < m; ++b) {
      if (b != a) denom += std::exp(T::cosine(z[a], z[b]) / tau);
    }
    const size_t positive = (a + n) % m;
    total += -(T::cosine(z[a], z[positive]) / tau - std::log(denom));
  }
  return total / static_cast<double>(m);
}

}  // namespace

TEST(NTXent, MatchesLoopReference) {
  const auto z1 = T::randn64({6, 5}, 1), z2 = T::randn64({6, 5}, 2);
  for (double tau : {0.1, 0.2, 0.5, 1.0}) {
    EXPECT_NEAR(T::value(F::nt_xent(z1, z2, F::NTXentOptions().temperature(tau))),
                nt_xent_loops(z1, z2, tau), 1e-10)
        << "tau " << tau;
  }
}

TEST(NTXent, DefaultTemperatureIsSoloLearns) {
  EXPECT_DOUBLE_EQ(F::NTXentOptions().temperature(), 0.2);
  const auto z1 = T::randn64({4, 3}, 3), z2 = T::randn64({4, 3}, 4);
  EXPECT_NEAR(T::value(F::nt_xent(z1, z2)), nt_xent_loops(z1, z2, 0.2), 1e-10);
}

TEST(NTXent, OrthogonalSamplesHaveClosedForm) {
  // Identical views, mutually orthogonal images: the positive has logit 1/tau, each of the
  // 2N - 2 negatives logit 0, so l = log(1 + (2N - 2) exp(-1/tau)) for every anchor.
  const int64_t n = 3;
  const double tau = 0.3;
  const auto z = torch::eye(n, 4, torch::kFloat64) * 2.5;
  const double expected = std::log(1 + (2.0 * n - 2) * std::exp(-1 / tau));
  EXPECT_NEAR(T::value(F::nt_xent(z, z.clone(), F::NTXentOptions().temperature(tau))), expected,
              1e-12);
  // Opposite views: the positive now has logit -1/tau.
  const double opposite = std::log(1 + (2.0 * n - 2) * std::exp(1 / tau));
  EXPECT_NEAR(T::value(F::nt_xent(z, -z, F::NTXentOptions().temperature(tau))), opposite, 1e-10);
}

TEST(NTXent, SymmetricInTheViews) {
  const auto z1 = T::randn64({5, 4}, 5), z2 = T::randn64({5, 4}, 6);
  EXPECT_NEAR(T::value(F::nt_xent(z1, z2)), T::value(F::nt_xent(z2, z1)), 1e-12);
}

TEST(NTXent, InvariantToEmbeddingScale) {
  const auto z1 = T::randn64({5, 4}, 7), z2 = T::randn64({5, 4}, 8);
  const auto s1 = T::uniform64({5, 1}, 0.1, 10, 9), s2 = T::uniform64({5, 1}, 0.1, 10, 10);
  EXPECT_NEAR(T::value(F::nt_xent(z1 * s1, z2 * s2)), T::value(F::nt_xent(z1, z2)), 1e-12);
}

TEST(NTXent, GradientMatchesFiniteDifferences) {
  auto z1 = T::randn64({4, 5}, 11).requires_grad_();
  auto z2 = T::randn64({4, 5}, 12).requires_grad_();
  const auto r = T::gradcheck([](const auto& in) { return F::nt_xent(in[0], in[1]); }, {z1, z2});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(NTXent, ModuleMatchesFunctional) {
  const auto z1 = T::randn64({4, 3}, 13), z2 = T::randn64({4, 3}, 14);
  selfsup::losses::NTXentLoss loss(selfsup::losses::NTXentOptions().temperature(0.7));
  EXPECT_DOUBLE_EQ(T::value(loss(z1, z2)),
                   T::value(F::nt_xent(z1, z2, F::NTXentOptions().temperature(0.7))));
  T::expect_error_mentions(
      [] { selfsup::losses::NTXentLoss(selfsup::losses::NTXentOptions().temperature(-2)); },
      {"temperature", "-2"});
}

TEST(NTXent, RejectsBadArguments) {
  const auto z = T::randn64({4, 3}, 15);
  T::expect_error_mentions([&] { F::nt_xent(z, z, F::NTXentOptions().temperature(0)); },
                           {"nt_xent", "temperature", "0"});
  T::expect_error_mentions(
      [&] {
        F::nt_xent(z, T::randn64({4, 5}, 1));
      },
      {"z1", "z2", "[4, 3]", "[4, 5]"});
  T::expect_error_mentions([&] { F::nt_xent(z.view({-1}), z.view({-1})); }, {"z1", "[12]"});
  T::expect_error_mentions([&] { F::nt_xent(z.to(torch::kLong), z.to(torch::kLong)); },
                           {"z1", "Long"});
  T::expect_error_mentions([&] { F::nt_xent(z, z.to(torch::kFloat32)); },
                           {"z1", "z2", "dtype", "Double", "Float"});
  T::expect_error_mentions([&] { F::nt_xent(z.narrow(0, 0, 0), z.narrow(0, 0, 0)); },
                           {"z1", "[0, 3]"});
}
