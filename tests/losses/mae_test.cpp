#include "selfsup/losses/mae.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// The loss written out with loops: per-patch target standardisation (unbiased variance + eps),
// mean squared error over the patch's pixels, averaged over the masked patches.
double mae_loop(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask, bool norm_pix,
                double eps = 1e-6) {
  const auto p = pred.to(torch::kDouble).contiguous(), t = target.to(torch::kDouble).contiguous();
  const auto m = mask.to(torch::kDouble).contiguous();
  const int64_t n = p.size(0), l = p.size(1), d = p.size(2);
  auto pa = p.accessor<double, 3>(), ta = t.accessor<double, 3>();
  auto ma = m.accessor<double, 2>();
  double total = 0, count = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < l; ++j) {
      double mean = 0, var = 0;
      for (int64_t k = 0; k < d; ++k) mean += ta[i][j][k] / d;
      for (int64_t k = 0; k < d; ++k) var += (ta[i][j][k] - mean) * (ta[i][j][k] - mean) / (d - 1);
      double err = 0;
      for (int64_t k = 0; k < d; ++k) {
        const double target_k = norm_pix ? (ta[i][j][k] - mean) / std::sqrt(var + eps) : ta[i][j][k];
        err += (pa[i][j][k] - target_k) * (pa[i][j][k] - target_k) / d;
      }
      total += ma[i][j] * err;
      count += ma[i][j];
    }
  }
  return total / count;
}

torch::Tensor random_mask(int64_t n, int64_t l, uint64_t seed) {
  auto m = (T::randn64({n, l}, seed) > 0).to(torch::kDouble);
  m.select(1, 0).fill_(1);  // at least one masked patch per sample
  return m;
}

}  // namespace

TEST(MaeLoss, MatchesLoopReference) {
  const auto pred = T::randn64({3, 5, 6}, 1), target = T::randn64({3, 5, 6}, 2) * 2 + 0.5;
  const auto mask = random_mask(3, 5, 3);
  for (const bool norm_pix : {true, false}) {
    EXPECT_NEAR(T::value(F::mae_loss(pred, target, mask, F::MaeLossOptions().norm_pix(norm_pix))),
                mae_loop(pred, target, mask, norm_pix), 1e-12)
        << "norm_pix " << norm_pix;
  }
  EXPECT_NEAR(T::value(F::mae_loss(pred, target, mask, F::MaeLossOptions().eps(0.5))),
              mae_loop(pred, target, mask, true, 0.5), 1e-12);
}

TEST(MaeLoss, IgnoresTheVisiblePatches) {
  const auto pred = T::randn64({2, 6, 4}, 4), target = T::randn64({2, 6, 4}, 5);
  const auto mask = random_mask(2, 6, 6);
  // Any change to the prediction of a visible patch leaves the loss as it was.
  const auto changed = pred + (1 - mask).unsqueeze(-1) * T::randn64({2, 6, 4}, 7) * 10;
  EXPECT_NEAR(T::value(F::mae_loss(changed, target, mask)), T::value(F::mae_loss(pred, target, mask)), 1e-12);
  // ... and its gradient there is exactly zero.
  auto p = pred.clone().requires_grad_();
  F::mae_loss(p, target, mask).backward();
  EXPECT_EQ((p.grad() * (1 - mask).unsqueeze(-1)).abs().max().item<double>(), 0.0);
}

TEST(MaeLoss, AnalyticCases) {
  // One masked patch: the loss is that patch's mean squared error. Target (1, 2, 3, 4): mean 2.5,
  // unbiased variance 5/3, so the normalised target is (x - 2.5) / sqrt(5/3 + 1e-6).
  auto target = torch::zeros({1, 3, 4}, torch::kDouble);
  target[0][1] = torch::tensor({1., 2., 3., 4.}, torch::kDouble);
  const auto mask = torch::tensor({{0., 1., 0.}}, torch::kDouble);
  const auto pred = torch::zeros({1, 3, 4}, torch::kDouble);
  const double s2 = 5.0 / 3.0 + 1e-6;
  const double expected = (2.25 + 0.25 + 0.25 + 2.25) / s2 / 4;
  EXPECT_NEAR(T::value(F::mae_loss(pred, target, mask)), expected, 1e-12);
  EXPECT_NEAR(T::value(F::mae_loss(pred, target, mask, F::MaeLossOptions().norm_pix(false))), 7.5, 1e-12);
  // Every patch masked: the plain mean of the per-patch errors.
  const auto all = torch::ones({1, 3}, torch::kDouble);
  EXPECT_NEAR(T::value(F::mae_loss(pred, target, all, F::MaeLossOptions().norm_pix(false))), 7.5 / 3, 1e-12);
  // A prediction equal to the (normalised) target costs nothing.
  const auto t = T::randn64({2, 3, 4}, 8);
  EXPECT_NEAR(T::value(F::mae_loss(F::mae_target(t), t, all.expand({2, 3}))), 0.0, 1e-14);
  EXPECT_NEAR(T::value(F::mae_loss(t, t, all.expand({2, 3}), F::MaeLossOptions().norm_pix(false))), 0.0, 1e-14);
}

TEST(MaeLoss, NormPixIsInvariantToEachPatchsScaleAndShift) {
  const auto pred = T::randn64({2, 4, 5}, 9), target = T::randn64({2, 4, 5}, 10);
  const auto mask = random_mask(2, 4, 11);
  const auto scale = T::randn64({2, 4, 1}, 12).abs() + 0.5, shift = T::randn64({2, 4, 1}, 13) * 3;
  // eps is negligible next to these variances but not zero: a loose tolerance.
  EXPECT_NEAR(T::value(F::mae_loss(pred, target * scale + shift, mask)), T::value(F::mae_loss(pred, target, mask)),
              1e-5);
}

TEST(MaeLoss, GradientMatchesFiniteDifferences) {
  auto pred = T::randn64({2, 4, 3}, 14).requires_grad_();
  auto target = T::randn64({2, 4, 3}, 15).requires_grad_();
  const auto mask = random_mask(2, 4, 16);
  for (const bool norm_pix : {true, false}) {
    const auto r = T::gradcheck(
        [&](const auto& in) { return F::mae_loss(in[0], in[1], mask, F::MaeLossOptions().norm_pix(norm_pix)); },
        {pred, target});
    EXPECT_TRUE(r.ok) << "norm_pix " << norm_pix << ": max abs error " << r.max_abs_error;
  }
}

TEST(MaeLoss, ReducedPrecisionComputesInFloat32) {
  const auto pred = T::randn64({2, 4, 6}, 17), target = T::randn64({2, 4, 6}, 18);
  const auto mask = random_mask(2, 4, 19);
  const auto low = F::mae_loss(pred.to(torch::kBFloat16), target.to(torch::kBFloat16), mask.to(torch::kBFloat16));
  EXPECT_EQ(low.scalar_type(), torch::kFloat);
  EXPECT_NEAR(low.item<double>(), T::value(F::mae_loss(pred, target, mask)), 0.05);
}

TEST(MaeLoss, ModuleMatchesFunctional) {
  const auto pred = T::randn64({2, 3, 4}, 20), target = T::randn64({2, 3, 4}, 21);
  const auto mask = random_mask(2, 3, 22);
  const auto options = F::MaeLossOptions().norm_pix(false);
  selfsup::losses::MaeLoss loss(options);
  EXPECT_DOUBLE_EQ(T::value(loss(pred, target, mask)), T::value(F::mae_loss(pred, target, mask, options)));
}

TEST(MaeLoss, RejectsBadArguments) {
  const auto x = T::randn64({2, 3, 4}, 23);
  const auto mask = torch::ones({2, 3}, torch::kDouble);
  T::expect_error_mentions([&] { F::mae_loss(x, x.narrow(2, 0, 3), mask); }, {"mae_loss", "pred", "target", "[2, 3, 3]"});
  T::expect_error_mentions([&] { F::mae_loss(x, x, mask.narrow(1, 0, 2)); }, {"mask", "[2, 3]", "[2, 2]"});
  T::expect_error_mentions([&] { F::mae_loss(x, x, torch::zeros({2, 3}, torch::kDouble)); }, {"mask", "no masked patch"});
  T::expect_error_mentions([&] { F::mae_loss(x.flatten(1), x, mask); }, {"pred", "[N, L, P]"});
  T::expect_error_mentions([&] { F::mae_loss(x, x, mask, F::MaeLossOptions().eps(-1)); }, {"eps", "-1"});
  T::expect_error_mentions([&] { F::mae_loss(x.narrow(2, 0, 1), x.narrow(2, 0, 1), mask); },
                           {"norm_pix", "2 pixels"});
}
