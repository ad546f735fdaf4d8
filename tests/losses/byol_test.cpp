#include "selfsup/losses/byol.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double byol_loops(const torch::Tensor& p, const torch::Tensor& z) {
  const T::Rows ps = T::to_rows(p), zs = T::to_rows(z);
  double total = 0;
  for (size_t i = 0; i < ps.size(); ++i) total += 2 - 2 * T::cosine(ps[i], zs[i]);
  return total / static_cast<double>(ps.size());
}

}  // namespace

TEST(BYOLLoss, MatchesLoopReference) {
  const auto p = T::randn64({7, 5}, 1), z = T::randn64({7, 5}, 2);
  EXPECT_NEAR(T::value(F::byol_loss(p, z)), byol_loops(p, z), 1e-12);
}

TEST(BYOLLoss, ClosedForms) {
  const auto z = T::randn64({4, 3}, 3);
  const auto scale = T::uniform64({4, 1}, 0.5, 4, 4);
  EXPECT_NEAR(T::value(F::byol_loss(z * scale, z)), 0.0, 1e-12);   // same direction
  EXPECT_NEAR(T::value(F::byol_loss(-z * scale, z)), 4.0, 1e-12);  // opposite
  const auto e = torch::eye(2, torch::kFloat64);
  EXPECT_NEAR(T::value(F::byol_loss(e, e.flip(0))), 2.0, 1e-12);  // orthogonal
}

TEST(BYOLLoss, InvariantToScale) {
  const auto p = T::randn64({5, 4}, 5), z = T::randn64({5, 4}, 6);
  const auto s1 = T::uniform64({5, 1}, 0.1, 10, 7), s2 = T::uniform64({5, 1}, 0.1, 10, 8);
  EXPECT_NEAR(T::value(F::byol_loss(p * s1, z * s2)), T::value(F::byol_loss(p, z)), 1e-12);
}

TEST(BYOLLoss, TargetReceivesNoGradient) {
  auto p = T::randn64({4, 5}, 9).requires_grad_();
  auto z = T::randn64({4, 5}, 10).requires_grad_();
  F::byol_loss(p, z).backward();
  ASSERT_TRUE(p.grad().defined());
  EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(z.grad().defined()) << "the stop-gradient leaked into the target";
}

TEST(BYOLLoss, GradientMatchesFiniteDifferences) {
  auto p = T::randn64({4, 5}, 11).requires_grad_();
  const auto z = T::randn64({4, 5}, 12);
  const auto r = T::gradcheck([&](const auto& in) { return F::byol_loss(in[0], z); }, {p});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(BYOLLoss, ModuleMatchesFunctional) {
  const auto p = T::randn64({4, 3}, 13), z = T::randn64({4, 3}, 14);
  selfsup::losses::BYOLLoss loss;
  EXPECT_DOUBLE_EQ(T::value(loss(p, z)), T::value(F::byol_loss(p, z)));
}

TEST(BYOLLoss, RejectsBadArguments) {
  const auto p = T::randn64({4, 3}, 15);
  T::expect_error_mentions(
      [&] {
        F::byol_loss(p, T::randn64({4, 2}, 1));
      },
      {"byol_loss", "[4, 3]", "[4, 2]"});
  T::expect_error_mentions([&] { F::byol_loss(p.view({-1}), p.view({-1})); },
                           {"byol_loss", "p", "[12]"});
}
