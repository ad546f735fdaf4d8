// Neighbor2Neighbor's sub-sampler and loss, Noise2Void's blind-spot mask and masked loss.
#include <gtest/gtest.h>

#include <set>

#include "selfsup/core/runtime.h"
#include "selfsup/losses/neighbor2neighbor.h"
#include "selfsup/losses/noise2void.h"
#include "selfsup/nets/unet.h"
#include "support/error_of.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

TEST(NeighborPairs, TwoDifferentAdjacentPixelsOfEveryCellUniformOverTheEightPairs) {
  auto gen = selfsup::make_generator(3);
  const auto p = F::neighbor_pairs(50, 80, 100, gen);  // 200,000 cells
  ASSERT_EQ(p.first.sizes(), (std::vector<int64_t>{50, 40, 50}));
  const auto a = p.first.flatten(), b = p.second.flatten();
  EXPECT_TRUE((a != b).all().item<bool>()) << "a cell gave the same pixel to both sub-images";
  // Adjacent: never the diagonal pairs (0, 3) and (1, 2); all in 0..3.
  EXPECT_TRUE(((a + b) != 3).all().item<bool>());
  EXPECT_TRUE((a.ge(0) & a.le(3) & b.ge(0) & b.le(3)).all().item<bool>());
  // Each of the 8 ordered pairs with probability 1/8: sd of a share is sqrt(p(1-p)/n) ~ 0.00074.
  const auto code = a * 4 + b;
  const auto counts = torch::bincount(code, {}, 16).to(torch::kFloat64) / static_cast<double>(code.numel());
  const std::set<int64_t> pairs{0 * 4 + 1, 0 * 4 + 2, 1 * 4 + 3, 2 * 4 + 3, 1 * 4 + 0, 2 * 4 + 0, 3 * 4 + 1, 3 * 4 + 2};
  for (int64_t k = 0; k < 16; ++k) {
    const double share = counts[k].item<double>();
    if (pairs.count(k)) {
      EXPECT_NEAR(share, 1.0 / 8, 0.004) << "pair " << k / 4 << "," << k % 4;
    } else {
      EXPECT_EQ(share, 0) << "pair " << k / 4 << "," << k % 4;
    }
  }
  // Seeded: the same generator seed draws the same pairs.
  auto gen2 = selfsup::make_generator(3);
  EXPECT_TRUE(torch::equal(F::neighbor_pairs(50, 80, 100, gen2).first, p.first));
}

TEST(NeighborPairs, SubsampleTakesTheNamedPixelOfEachCell) {
  const auto x = T::randn64({2, 3, 6, 8}, 1);
  auto gen = selfsup::make_generator(4);
  const auto which = F::neighbor_pairs(2, 6, 8, gen).first;
  const auto s = F::subsample(x, which);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{2, 3, 3, 4}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t k = which[n][i][j].item<int64_t>();
          EXPECT_EQ(s[n][c][i][j].item<double>(), x[n][c][2 * i + k / 2][2 * j + k % 2].item<double>());
        }
  EXPECT_NE(T::error_of([&] { F::subsample(T::randn64({1, 1, 5, 4}, 1), which); }).find("even height"),
            std::string::npos);
}

TEST(Neighbor2NeighborLoss, MatchesTheFormulaAnAnalyticCaseAndFiniteDifferences) {
  const auto fg1 = T::randn64({2, 1, 4, 4}, 1), g2 = T::randn64({2, 1, 4, 4}, 2);
  const auto g1f = T::randn64({2, 1, 4, 4}, 3), g2f = T::randn64({2, 1, 4, 4}, 4);
  const double gamma = 1.7;
  // A loop over the elements.
  double rec = 0, reg = 0;
  const auto a = fg1.flatten(), b = g2.flatten(), c = g1f.flatten(), d = g2f.flatten();
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double diff = a[i].item<double>() - b[i].item<double>();
    rec += diff * diff;
    const double r = diff - (c[i].item<double>() - d[i].item<double>());
    reg += r * r;
  }
  rec /= static_cast<double>(a.numel());
  reg /= static_cast<double>(a.numel());
  const auto l = F::neighbor2neighbor_loss(fg1, g2, g1f, g2f, gamma);
  EXPECT_NEAR(l.reconstruction.item<double>(), rec, 1e-12);
  EXPECT_NEAR(l.regularization.item<double>(), reg, 1e-12);
  EXPECT_NEAR(l.loss.item<double>(), rec + gamma * reg, 1e-12);
  // Analytic: a constant offset e between f(g1 y) and g2 y that the full image's sub-images share
  // costs e^2 in the first term and nothing in the second.
  const auto e = F::neighbor2neighbor_loss(g2 + 0.5, g2, g1f + 0.5, g1f, 3.0);
  EXPECT_NEAR(e.reconstruction.item<double>(), 0.25, 1e-12);
  EXPECT_NEAR(e.regularization.item<double>(), 0.0, 1e-12);
  // Gradient with respect to f(g1 y), the only input that carries one in training.
  const auto r = T::gradcheck(
      [&](const std::vector<torch::Tensor>& in) { return F::neighbor2neighbor_loss(in[0], g2, g1f, g2f, gamma).loss; },
      {fg1.clone().requires_grad_(true)});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
  EXPECT_NE(T::error_of([&] { F::neighbor2neighbor_loss(fg1, g2, g1f, g2f, -1); }).find("gamma must be >= 0"),
            std::string::npos);
}

TEST(BlindSpot, MasksTheFractionAndTakesEachValueFromAnotherUnmaskedPixelOfItsWindow) {
  const auto noisy = T::randn64({3, 2, 20, 24}, 5).to(torch::kFloat32);
  auto gen = selfsup::make_generator(6);
  const auto o = F::BlindSpotOptions().fraction(0.05).window(5);
  const auto m = F::blind_spot(noisy, o, gen);
  ASSERT_EQ(m.mask.sizes(), (std::vector<int64_t>{3, 1, 20, 24}));
  const auto per_image = m.mask.flatten(1).sum(1);
  for (int64_t b = 0; b < 3; ++b) EXPECT_EQ(per_image[b].item<int64_t>(), static_cast<int64_t>(0.05 * 480));
  // Unmasked pixels are untouched.
  const auto keep = (~m.mask).expand_as(noisy);
  EXPECT_TRUE(torch::equal(m.input.masked_select(keep), noisy.masked_select(keep)));
  int64_t k = 0;
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t y = 0; y < 20; ++y)
      for (int64_t x = 0; x < 24; ++x) {
        if (!m.mask[b][0][y][x].item<bool>()) continue;
        const int64_t sy = m.source[k][0].item<int64_t>(), sx = m.source[k][1].item<int64_t>();
        ++k;
        EXPECT_TRUE(sy != y || sx != x) << "a pixel replaced by itself";
        EXPECT_LE(std::abs(sy - y), 2);
        EXPECT_LE(std::abs(sx - x), 2);
        EXPECT_FALSE(m.mask[b][0][sy][sx].item<bool>()) << "a value taken from another masked pixel";
        for (int64_t c = 0; c < 2; ++c) {
          EXPECT_EQ(m.input[b][c][y][x].item<float>(), noisy[b][c][sy][sx].item<float>());
        }
      }
  EXPECT_EQ(k, m.source.size(0));
}

// The network is never shown the value it predicts: changing the noisy values at the masked
// pixels (and only there) leaves the masked input, hence the output at those pixels, unchanged.
TEST(BlindSpot, TheNetworkNeverSeesThePixelItPredicts) {
  selfsup::seed_everything(0);
  selfsup::nets::UNet net(selfsup::nets::UNetOptions(1).width(8).depth(2));
  const auto noisy = T::randn64({2, 1, 32, 32}, 7).to(torch::kFloat32);
  const auto o = F::BlindSpotOptions().fraction(0.02);
  auto g1 = selfsup::make_generator(8), g2 = selfsup::make_generator(8);
  const auto a = F::blind_spot(noisy, o, g1);
  const auto changed = torch::where(a.mask, noisy + 100.0, noisy);
  const auto b = F::blind_spot(changed, o, g2);
  ASSERT_TRUE(torch::equal(a.mask, b.mask));
  EXPECT_TRUE(torch::equal(a.input, b.input));
  torch::NoGradGuard no_grad;
  const auto ya = net->forward(a.input), yb = net->forward(b.input);
  EXPECT_TRUE(torch::equal(ya.masked_select(a.mask), yb.masked_select(a.mask)));
  // While the unmasked input does reach the output: the test above can fail.
  EXPECT_FALSE(torch::equal(net->forward(noisy), net->forward(changed)));
}

TEST(MaskedMse, MatchesALoopAndFiniteDifferences) {
  const auto p = T::randn64({2, 3, 5, 6}, 1), t = T::randn64({2, 3, 5, 6}, 2);
  const auto mask = T::uniform64({2, 1, 5, 6}, 0, 1, 3) > 0.7;
  double sum = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 6; ++x) {
        if (!mask[b][0][y][x].item<bool>()) continue;
        for (int64_t c = 0; c < 3; ++c) {
          const double d = p[b][c][y][x].item<double>() - t[b][c][y][x].item<double>();
          sum += d * d;
          ++n;
        }
      }
  ASSERT_GT(n, 0);
  EXPECT_NEAR(F::masked_mse(p, t, mask).item<double>(), sum / static_cast<double>(n), 1e-12);
  const auto r = T::gradcheck([&](const std::vector<torch::Tensor>& in) { return F::masked_mse(in[0], t, mask); },
                              {p.clone().requires_grad_(true)});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
  EXPECT_NE(T::error_of([&] { F::masked_mse(p, t, torch::zeros_like(mask)); }).find("selects no pixel"),
            std::string::npos);
}
