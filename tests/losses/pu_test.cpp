#include "selfsup/losses/pu.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

const auto kPuLosses = {F::PuLoss::kSigmoid, F::PuLoss::kLogistic};

double margin_loop(double z, F::PuLoss loss) {
  return loss == F::PuLoss::kSigmoid ? 1.0 / (1.0 + std::exp(z)) : std::log1p(std::exp(-z));
}

struct LoopRisk {
  double positive, negative;
};

// The risks written out over the samples, one at a time.
LoopRisk pu_risk_loops(const torch::Tensor& g_pos, const torch::Tensor& g_unl, double prior, F::PuLoss loss) {
  double pos = 0, pos_as_negative = 0, unl_as_negative = 0;
  for (int64_t i = 0; i < g_pos.size(0); ++i) {
    const double g = g_pos[i].item<double>();
    pos += margin_loop(g, loss);
    pos_as_negative += margin_loop(-g, loss);
  }
  for (int64_t i = 0; i < g_unl.size(0); ++i) unl_as_negative += margin_loop(-g_unl[i].item<double>(), loss);
  const double np = static_cast<double>(g_pos.size(0)), nu = static_cast<double>(g_unl.size(0));
  return {prior * pos / np, unl_as_negative / nu - prior * pos_as_negative / np};
}

}  // namespace

TEST(PuRisk, UnbiasedRiskMatchesLoopReferenceForBothLosses) {
  const auto g_pos = T::randn64({13}, 1) * 2 + 1, g_unl = T::randn64({41}, 2) * 2;
  for (auto loss : kPuLosses) {
    for (double prior : {0.1, 0.3, 0.7}) {
      const auto r = F::upu_risk(g_pos, g_unl, prior, loss);
      const auto want = pu_risk_loops(g_pos, g_unl, prior, loss);
      EXPECT_NEAR(T::value(r.positive_risk), want.positive, 1e-12) << F::pu_loss_name(loss);
      EXPECT_NEAR(T::value(r.negative_risk), want.negative, 1e-12) << F::pu_loss_name(loss);
      EXPECT_NEAR(T::value(r.risk), want.positive + want.negative, 1e-12);
      EXPECT_NEAR(T::value(r.surrogate), T::value(r.risk), 0.0);
      EXPECT_FALSE(r.ascent);
    }
  }
}

TEST(PuRisk, NonNegativeRiskMatchesLoopReferenceOnBothBranches) {
  for (auto loss : kPuLosses) {
    // Unlabeled images scored above the positives: R_n^- > 0, the plain branch.
    const auto plain_p = T::randn64({9}, 3), plain_u = T::randn64({30}, 4) + 1;
    const auto plain = F::nnpu_risk(plain_p, plain_u, 0.3, F::NnpuOptions().loss(loss));
    const auto want_plain = pu_risk_loops(plain_p, plain_u, 0.3, loss);
    ASSERT_GT(want_plain.negative, 0);
    EXPECT_FALSE(plain.ascent);
    EXPECT_NEAR(T::value(plain.risk), want_plain.positive + want_plain.negative, 1e-12);
    // What an overfitted model does: every labeled positive scored positive and every unlabeled
    // image negative, so E_u[l(-g)] is small, pi E_p[l(-g)] large, R_n^- < 0, and nnPU clips it.
    const auto g_pos = T::randn64({9}, 5) * 0.1 + 4, g_unl = T::randn64({30}, 6) * 0.1 - 4;
    const auto want = pu_risk_loops(g_pos, g_unl, 0.5, loss);
    ASSERT_LT(want.negative, -0.05);
    for (double beta : {0.0, 0.05}) {
      const auto r = F::nnpu_risk(g_pos, g_unl, 0.5, F::NnpuOptions().loss(loss).beta(beta).gamma(0.7));
      EXPECT_TRUE(r.ascent);
      EXPECT_NEAR(T::value(r.positive_risk), want.positive, 1e-12);
      EXPECT_NEAR(T::value(r.negative_risk), want.negative, 1e-12);
      EXPECT_NEAR(T::value(r.risk), want.positive - beta, 1e-12) << "R_p^+ + max(-beta, R_n^-)";
      EXPECT_NEAR(T::value(r.surrogate), -0.7 * want.negative, 1e-12);
    }
  }
}

TEST(PuRisk, AnalyticCaseOfConstantScores) {
  // g = 0 everywhere: l(0) = 1/2 (sigmoid) or log 2 (logistic), so R_p^+ = pi l(0) and
  // R_n^- = (1 - pi) l(0): the risk of guessing is l(0) whatever the prior.
  const auto zp = torch::zeros({5}, torch::kFloat64), zu = torch::zeros({8}, torch::kFloat64);
  for (auto loss : kPuLosses) {
    const double l0 = loss == F::PuLoss::kSigmoid ? 0.5 : std::log(2.0);
    const auto r = F::nnpu_risk(zp, zu, 0.3, F::NnpuOptions().loss(loss));
    EXPECT_NEAR(T::value(r.positive_risk), 0.3 * l0, 1e-15);
    EXPECT_NEAR(T::value(r.negative_risk), 0.7 * l0, 1e-15);
    EXPECT_NEAR(T::value(r.risk), l0, 1e-15);
  }
  // Perfect separation with the sigmoid loss at large margins: the positive risk vanishes and the
  // negative risk tends to (1 - pi) E_N[l(-g)] -> 0 as well, when U holds positives scored like P.
  const auto big = torch::full({4}, 40.0, torch::kFloat64);
  const auto u = torch::cat({torch::full({3}, 40.0, torch::kFloat64), torch::full({7}, -40.0, torch::kFloat64)});
  const auto r = F::upu_risk(big, u, 0.3);
  EXPECT_NEAR(T::value(r.risk), 0.0, 1e-12);
}

TEST(PuRisk, NnpuEqualsUpuWhileTheNegativeRiskIsAboveMinusBeta) {
  int plain = 0, ascent = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    // The unlabeled scores slide down from above the positives' to far below them, so that both
    // branches are seen.
    const auto g_pos = T::randn64({16}, 100 + seed) * 2 + 2;
    const auto g_unl = T::randn64({48}, 200 + seed) * 2 + (2 - 0.4 * static_cast<double>(seed));
    for (auto loss : kPuLosses) {
      const auto u = F::upu_risk(g_pos, g_unl, 0.4, loss);
      const double beta = 0.02;
      const auto n = F::nnpu_risk(g_pos, g_unl, 0.4, F::NnpuOptions().loss(loss).beta(beta));
      if (T::value(u.negative_risk) >= -beta) {
        EXPECT_FALSE(n.ascent);
        EXPECT_EQ(T::value(n.risk), T::value(u.risk));
        EXPECT_EQ(T::value(n.surrogate), T::value(u.surrogate));
        ++plain;
      } else {
        EXPECT_TRUE(n.ascent);
        ++ascent;
      }
    }
  }
  EXPECT_GT(plain, 0);
  EXPECT_GT(ascent, 0);
}

TEST(PuRisk, AscentBranchBackPropagatesMinusGammaTimesTheNegativeRisk) {
  const auto g_pos0 = T::randn64({9}, 5) * 0.1 + 4, g_unl0 = T::randn64({30}, 6) * 0.1 - 4;
  for (auto loss : kPuLosses) {
    auto p1 = g_pos0.clone().requires_grad_(), u1 = g_unl0.clone().requires_grad_();
    const auto r = F::nnpu_risk(p1, u1, 0.5, F::NnpuOptions().loss(loss).gamma(0.25));
    ASSERT_TRUE(r.ascent);
    r.surrogate.backward();
    auto p2 = g_pos0.clone().requires_grad_(), u2 = g_unl0.clone().requires_grad_();
    (-0.25 * F::upu_risk(p2, u2, 0.5, loss).negative_risk).backward();
    EXPECT_TRUE(torch::allclose(p1.grad(), p2.grad(), 1e-14, 1e-15));
    EXPECT_TRUE(torch::allclose(u1.grad(), u2.grad(), 1e-14, 1e-15));
    // The labeled positives still get a gradient, through R_n^-'s pi E_p[l(-g)] term.
    EXPECT_GT(p1.grad().abs().sum().item<double>(), 0);
  }
}

TEST(PuRisk, GradientsMatchFiniteDifferences) {
  for (auto loss : kPuLosses) {
    auto g_pos = (T::randn64({6}, 7) + 0.5).requires_grad_(), g_unl = T::randn64({10}, 8).requires_grad_();
    const auto upu = T::gradcheck([&](const auto& in) { return F::upu_risk(in[0], in[1], 0.3, loss).surrogate; },
                                  {g_pos, g_unl});
    EXPECT_TRUE(upu.ok) << F::pu_loss_name(loss) << " uPU: max abs error " << upu.max_abs_error;
    // Both branches of nnPU, each far enough from the switch that finite differences stay on it.
    auto hi_p = (T::randn64({6}, 9) * 0.1 + 2).requires_grad_(), hi_u = (T::randn64({10}, 10) * 0.1 - 2).requires_grad_();
    ASSERT_TRUE(F::nnpu_risk(hi_p, hi_u, 0.5, F::NnpuOptions().loss(loss)).ascent);
    for (auto in : {std::vector<torch::Tensor>{g_pos, g_unl}, std::vector<torch::Tensor>{hi_p, hi_u}}) {
      const auto r = T::gradcheck(
          [&](const auto& x) { return F::nnpu_risk(x[0], x[1], 0.5, F::NnpuOptions().loss(loss).gamma(0.5)).surrogate; },
          in);
      EXPECT_TRUE(r.ok) << F::pu_loss_name(loss) << " nnPU: max abs error " << r.max_abs_error;
    }
  }
}

TEST(PuRisk, LowPrecisionScoresAreComputedInFloat32) {
  const auto g_pos = T::randn64({8}, 11), g_unl = T::randn64({20}, 12);
  const auto exact = F::nnpu_risk(g_pos, g_unl, 0.3);
  const auto bf16 = F::nnpu_risk(g_pos.to(torch::kBFloat16), g_unl.to(torch::kBFloat16), 0.3);
  EXPECT_EQ(bf16.risk.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(T::value(bf16.risk), T::value(exact.risk), 2e-2);
}

TEST(PuRisk, BadArgumentsNameWhatIsWrong) {
  const auto p = T::randn64({4}, 13), u = T::randn64({6}, 14);
  T::expect_error_mentions([&] { F::nnpu_risk(p, u, 1.0); }, {"nnpu_risk", "prior", "(0, 1)", "1"});
  T::expect_error_mentions([&] { F::upu_risk(p, u, 0.0); }, {"upu_risk", "prior"});
  T::expect_error_mentions([&] { F::nnpu_risk(p, u, 0.3, F::NnpuOptions().beta(-1)); }, {"nnpu_risk", "beta", "-1"});
  T::expect_error_mentions([&] { F::nnpu_risk(p, u, 0.3, F::NnpuOptions().gamma(-0.5)); }, {"gamma"});
  T::expect_error_mentions([&] { F::upu_risk(p.view({2, 2}), u, 0.3); }, {"upu_risk", "g_pos", "1-D", "[2, 2]"});
  T::expect_error_mentions([&] { F::upu_risk(p, u.slice(0, 0, 0), 0.3); }, {"g_unl", "N >= 1"});
  T::expect_error_mentions([&] { F::upu_risk(p, u.to(torch::kLong), 0.3); }, {"g_unl", "floating-point"});
  T::expect_error_mentions([&] { F::pu_loss_from_name("hinge", "method.loss"); },
                           {"method.loss", "sigmoid or logistic", "hinge"});
  EXPECT_EQ(F::pu_loss_from_name("logistic"), F::PuLoss::kLogistic);
}
