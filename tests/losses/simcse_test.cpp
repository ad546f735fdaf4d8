// SimCSE's loss: against a plain loop (with and without hard negatives), an analytic case, its
// invariance to each row's scale, float64 finite differences, and the refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/losses/simcse.h"
#include "support/error_of.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double cosine(const T::Row& a, const T::Row& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t d = 0; d < a.size(); ++d) {
    ab += a[d] * b[d];
    aa += a[d] * a[d];
    bb += b[d] * b[d];
  }
  return ab / std::sqrt(aa * bb);
}

double simcse_loop(const torch::Tensor& h, const torch::Tensor& pos, const torch::Tensor& neg, double tau) {
  const auto a = T::to_rows(h), p = T::to_rows(pos);
  const auto n = neg.defined() ? T::to_rows(neg) : T::Rows{};
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double denom = 0;
    for (const auto& c : p) denom += std::exp(cosine(a[i], c) / tau);
    for (const auto& c : n) denom += std::exp(cosine(a[i], c) / tau);
    total += -std::log(std::exp(cosine(a[i], p[i]) / tau) / denom);
  }
  return total / static_cast<double>(a.size());
}

}  // namespace

TEST(SimCSELoss, MatchesALoop) {
  const auto h = T::randn64({6, 5}, 1), p = T::randn64({6, 5}, 2), n = T::randn64({6, 5}, 3);
  EXPECT_NEAR(F::simcse_loss(h, p, {}, F::SimCSEOptions().temperature(0.5)).item<double>(),
              simcse_loop(h, p, {}, 0.5), 1e-10);
  EXPECT_NEAR(F::simcse_loss(h, p, n, F::SimCSEOptions().temperature(0.5)).item<double>(),
              simcse_loop(h, p, n, 0.5), 1e-10);
  // The paper's temperature 0.05 by default.
  EXPECT_NEAR(F::simcse_loss(h, p).item<double>(), simcse_loop(h, p, {}, 0.05), 1e-9);
}

TEST(SimCSELoss, AnalyticCase) {
  // Two anchors along the axes, positives equal to them: cos 1 with its own, 0 with the other.
  // l = -log(e^(1/t) / (e^(1/t) + e^0)) for both.
  const auto h = torch::eye(2, torch::kFloat64);
  const double t = 0.5;
  EXPECT_NEAR(F::simcse_loss(h, h, {}, F::SimCSEOptions().temperature(t)).item<double>(),
              std::log1p(std::exp(-1 / t)), 1e-12);
  // One sentence, no other candidate: the loss is 0 (log 1).
  EXPECT_NEAR(F::simcse_loss(h.slice(0, 0, 1), h.slice(0, 0, 1)).item<double>(), 0.0, 1e-12);
}

TEST(SimCSELoss, InvariantToTheScaleOfEachRow) {
  const auto h = T::randn64({5, 4}, 4), p = T::randn64({5, 4}, 5), n = T::randn64({5, 4}, 6);
  const auto s = torch::rand({5, 1}, torch::kFloat64) * 3 + 0.1;
  EXPECT_NEAR(F::simcse_loss(h * s, p * s.flip(0), n * 2).item<double>(), F::simcse_loss(h, p, n).item<double>(), 1e-10);
}

TEST(SimCSELoss, FiniteDifferences) {
  const auto h = T::randn64({4, 3}, 7).requires_grad_(true), p = T::randn64({4, 3}, 8).requires_grad_(true);
  const auto n = T::randn64({4, 3}, 9).requires_grad_(true);
  const auto r = T::gradcheck(
      [](const std::vector<torch::Tensor>& in) {
        return F::simcse_loss(in[0], in[1], in[2], F::SimCSEOptions().temperature(0.3));
      },
      {h, p, n});
  EXPECT_TRUE(r.ok) << r.max_abs_error << " " << r.max_rel_error;
}

TEST(SimCSELoss, Refusals) {
  const auto h = T::randn64({4, 3}, 1);
  EXPECT_NE(T::error_of([&] { F::simcse_loss(h, h, {}, F::SimCSEOptions().temperature(-0.05)); }).find("temperature"),
            std::string::npos);
  EXPECT_NE(T::error_of([&] { F::simcse_loss(h, h.slice(0, 0, 3)); }).find("positives"), std::string::npos);
  EXPECT_NE(T::error_of([&] { F::simcse_loss(h, h, h.slice(1, 0, 2)); }).find("hard_negatives"), std::string::npos);
}
