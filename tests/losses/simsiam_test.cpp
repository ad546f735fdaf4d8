#include "selfsup/losses/simsiam.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double simsiam_loops(const torch::Tensor& p, const torch::Tensor& z) {
  const T::Rows ps = T::to_rows(p), zs = T::to_rows(z);
  double total = 0;
  for (size_t i = 0; i < ps.size(); ++i) total -= T::cosine(ps[i], zs[i]);
  return total / static_cast<double>(ps.size());
}

}  // namespace

TEST(SimSiamLoss, MatchesLoopReference) {
  const auto p = T::randn64({7, 5}, 1), z = T::randn64({7, 5}, 2);
  EXPECT_NEAR(T::value(F::simsiam_loss(p, z)), simsiam_loops(p, z), 1e-12);
}

TEST(SimSiamLoss, ClosedForms) {
  const auto z = T::randn64({4, 3}, 3);
  const auto scale = T::uniform64({4, 1}, 0.5, 4, 4);
  EXPECT_NEAR(T::value(F::simsiam_loss(z * scale, z)), -1.0, 1e-12);
  EXPECT_NEAR(T::value(F::simsiam_loss(-z * scale, z)), 1.0, 1e-12);
  const auto e = torch::eye(2, torch::kFloat64);
  EXPECT_NEAR(T::value(F::simsiam_loss(e, e.flip(0))), 0.0, 1e-12);
}

TEST(SimSiamLoss, InvariantToScale) {
  const auto p = T::randn64({5, 4}, 5), z = T::randn64({5, 4}, 6);
  const auto s1 = T::uniform64({5, 1}, 0.1, 10, 7), s2 = T::uniform64({5, 1}, 0.1, 10, 8);
  EXPECT_NEAR(T::value(F::simsiam_loss(p * s1, z * s2)), T::value(F::simsiam_loss(p, z)), 1e-12);
}

TEST(SimSiamLoss, TargetReceivesNoGradient) {
  auto p = T::randn64({4, 5}, 9).requires_grad_();
  auto z = T::randn64({4, 5}, 10).requires_grad_();
  F::simsiam_loss(p, z).backward();
  ASSERT_TRUE(p.grad().defined());
  EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(z.grad().defined()) << "the stop-gradient leaked into the target";
}

TEST(SimSiamLoss, GradientMatchesFiniteDifferences) {
  auto p = T::randn64({4, 5}, 11).requires_grad_();
  const auto z = T::randn64({4, 5}, 12);
  const auto r = T::gradcheck([&](const auto& in) { return F::simsiam_loss(in[0], z); }, {p});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(SimSiamLoss, ModuleMatchesFunctional) {
  const auto p = T::randn64({4, 3}, 13), z = T::randn64({4, 3}, 14);
  selfsup::losses::SimSiamLoss loss;
  EXPECT_DOUBLE_EQ(T::value(loss(p, z)), T::value(F::simsiam_loss(p, z)));
}

TEST(SimSiamLoss, RejectsBadArguments) {
  const auto p = T::randn64({4, 3}, 15);
  T::expect_error_mentions(
      [&] {
        F::simsiam_loss(p, T::randn64({5, 3}, 1));
      },
      {"simsiam_loss", "[4, 3]", "[5, 3]"});
  T::expect_error_mentions([&] { F::simsiam_loss(p.to(torch::kInt), p.to(torch::kInt)); },
                           {"simsiam_loss", "Int"});
}
