#include "selfsup/losses/elr.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// The update and the loss written out per example, in plain doubles; updates `targets` in place.
double elr_loops(const torch::Tensor& logits, const torch::Tensor& labels, T::Rows& targets,
                 const std::vector<int64_t>& idx, double beta, double lambda) {
  const T::Rows l = T::to_rows(logits);
  double ce = 0, reg = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    T::Row p = T::softmax(l[i]);
    ce -= std::log(p[labels[i].item<int64_t>()]);
    double z = 0;
    for (double& v : p) z += (v = std::min(std::max(v, 1e-4), 1 - 1e-4));
    T::Row& t = targets[idx[i]];
    double dot = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      t[c] = beta * t[c] + (1 - beta) * p[c] / z;
      dot += t[c] * p[c];
    }
    reg += std::log(1 - dot);
  }
  const double n = static_cast<double>(l.size());
  return ce / n + lambda * reg / n;
}

}  // namespace

TEST(Elr, MatchesLoopReferenceOverSeveralVisits) {
  auto targets = torch::zeros({10, 4}, torch::kFloat64);
  T::Rows ref(10, T::Row(4, 0.0));
  const std::vector<std::vector<int64_t>> visits{{3, 7, 1}, {7, 2, 3}, {3, 9, 0}};
  for (size_t v = 0; v < visits.size(); ++v) {
    const auto logits = T::randn64({3, 4}, 10 + v) * 2;
    const auto y = T::random_labels(3, 4, 20 + v);
    const auto idx = torch::tensor(visits[v], torch::kLong);
    const double got = T::value(F::elr_loss(logits, y, targets, idx, F::ElrOptions().beta(0.7).lambda(3)));
    EXPECT_NEAR(got, elr_loops(logits, y, ref, visits[v], 0.7, 3), 1e-12) << "visit " << v;
    const T::Rows now = T::to_rows(targets);
    for (size_t r = 0; r < ref.size(); ++r) {
      for (size_t c = 0; c < 4; ++c) EXPECT_NEAR(now[r][c], ref[r][c], 1e-14) << "target " << r;
    }
  }
}

TEST(Elr, ClosedForms) {
  const auto logits = T::randn64({5, 3}, 1);
  const auto y = T::random_labels(5, 3, 2);
  const double ce = T::value(torch::nn::functional::cross_entropy(logits, y));
  auto t = torch::zeros({5, 3}, torch::kFloat64);
  const auto idx = torch::arange(5, torch::kLong);
  // lambda 0: cross-entropy, and the targets still move: first visit (1 - beta) p.
  EXPECT_NEAR(T::value(F::elr_loss(logits, y, t, idx, F::ElrOptions().lambda(0))), ce, 1e-12);
  const auto p = torch::softmax(logits, 1).clamp(1e-4, 1 - 1e-4);
  EXPECT_TRUE(torch::allclose(t, 0.3 * p / p.sum(1, true), 0, 1e-14));
  // Uniform logits and beta 0: t = p = 1/C, so the term is lambda log(1 - 1/C).
  auto u = torch::zeros({2, 4}, torch::kFloat64);
  const auto flat = torch::zeros({2, 4}, torch::kFloat64);
  const auto y2 = T::random_labels(2, 4, 3);
  EXPECT_NEAR(T::value(F::elr_loss(flat, y2, u, torch::arange(2, torch::kLong), F::ElrOptions().beta(0).lambda(2))),
              std::log(4.0) + 2 * std::log(0.75), 1e-12);
}

// The target is a constant for the gradient (stop-gradient). With beta within 1e-9 of 1 the
// update barely moves it, so finite differences of the whole call see the same constant target.
TEST(Elr, GradientMatchesFiniteDifferencesWithTheTargetHeld) {
  const auto y = T::random_labels(6, 4, 4);
  const auto t0 = torch::softmax(T::randn64({6, 4}, 5), 1);
  const auto r = T::gradcheck(
      [&](const std::vector<torch::Tensor>& in) {
        auto t = t0.clone();
        return F::elr_loss(in[0], y, t, torch::arange(6, torch::kLong), F::ElrOptions().beta(1 - 1e-9).lambda(3));
      },
      {T::randn64({6, 4}, 6).requires_grad_()});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

// The regulariser pulls the prediction towards the target: with a target on class 1 and the label
// on class 0, the log-term's gradient raises logit 1 against cross-entropy's pull.
TEST(Elr, RegulariserPullsTowardsTheTarget) {
  auto t = torch::tensor({{0.05, 0.9, 0.05}}, torch::kFloat64);
  auto x = torch::zeros({1, 3}, torch::kFloat64).requires_grad_();
  F::elr_loss(x, torch::tensor({0}, torch::kLong), t, torch::tensor({0}, torch::kLong),
              F::ElrOptions().beta(1 - 1e-9).lambda(3))
      .backward();
  auto g_reg = x.grad().clone();
  auto x2 = torch::zeros({1, 3}, torch::kFloat64).requires_grad_();
  torch::nn::functional::cross_entropy(x2, torch::tensor({0}, torch::kLong)).backward();
  const auto reg_only = g_reg - x2.grad();
  EXPECT_LT(reg_only[0][1].item<double>(), 0) << "descent must raise the target's class";
}

TEST(Elr, BadArgumentsAreNamed) {
  const auto x = T::randn64({2, 3}, 7);
  const auto y = T::random_labels(2, 3, 8);
  auto t = torch::zeros({4, 3}, torch::kFloat64);
  const auto idx = torch::tensor({0, 1}, torch::kLong);
  T::expect_error_mentions([&] { F::elr_loss(x, y, t, idx, F::ElrOptions().beta(1.0)); }, {"beta must be in [0, 1)"});
  T::expect_error_mentions([&] { F::elr_loss(x, y, t, idx, F::ElrOptions().lambda(-1)); }, {"lambda"});
  auto wrong = torch::zeros({4, 2}, torch::kFloat64);
  T::expect_error_mentions([&] { F::elr_loss(x, y, wrong, idx); }, {"targets must be [M, 3]"});
  T::expect_error_mentions([&] { F::elr_loss(x, y, t, torch::tensor({0}, torch::kLong)); }, {"indices"});
}
