#include "selfsup/losses/simmatch.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace L = selfsup::losses;
namespace T = selfsup::testing;

namespace {

struct LoopTargets {
  T::Rows class_probs, instance_probs;
};

// The definitions written out: similarities to every bank entry, summed per class and mixed with
// the prediction; the instance target weights each entry by the prediction of its label.
LoopTargets simmatch_loops(const torch::Tensor& probs, const torch::Tensor& weak, const torch::Tensor& bank,
                           const torch::Tensor& bank_labels, double tau, double alpha) {
  const T::Rows p = T::to_rows(probs), w = T::to_rows(weak), k = T::to_rows(bank);
  const auto y = bank_labels.accessor<int64_t, 1>();
  const size_t n = p.size(), c = p[0].size(), nk = k.size();
  LoopTargets out{T::Rows(n, T::Row(c)), T::Rows(n, T::Row(nk))};
  for (size_t i = 0; i < n; ++i) {
    const double norm = std::sqrt(T::dot(w[i], w[i]));
    T::Row q(nk);
    double z = 0;
    for (size_t j = 0; j < nk; ++j) z += q[j] = std::exp(T::dot(w[i], k[j]) / norm / tau);
    double unfolded_sum = 0;
    for (size_t j = 0; j < nk; ++j) {
      q[j] /= z;
      unfolded_sum += q[j] * p[i][y[j]];
    }
    for (size_t cl = 0; cl < c; ++cl) {
      double agg = 0;
      for (size_t j = 0; j < nk; ++j) agg += y[j] == static_cast<int64_t>(cl) ? q[j] : 0;
      out.class_probs[i][cl] = alpha * p[i][cl] + (1 - alpha) * agg;
    }
    for (size_t j = 0; j < nk; ++j) out.instance_probs[i][j] = q[j] * p[i][y[j]] / unfolded_sum;
  }
  return out;
}

double instance_loss_loops(const torch::Tensor& strong, const torch::Tensor& bank, const torch::Tensor& targets,
                           double tau) {
  const T::Rows s = T::to_rows(strong), k = T::to_rows(bank), t = T::to_rows(targets);
  double total = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const double norm = std::sqrt(T::dot(s[i], s[i]));
    double z = 0;
    for (const auto& kj : k) z += std::exp(T::dot(s[i], kj) / norm / tau);
    for (size_t j = 0; j < k.size(); ++j) total -= t[i][j] * (T::dot(s[i], k[j]) / norm / tau - std::log(z));
  }
  return total / static_cast<double>(s.size());
}


struct Inputs {
  torch::Tensor probs, weak, strong, bank, labels;
};

Inputs inputs(int64_t n, int64_t c, int64_t k, int64_t d, uint64_t seed) {
  return {torch::softmax(2 * T::randn64({n, c}, seed), 1), T::randn64({n, d}, seed + 1),
          T::randn64({n, d}, seed + 2), T::unit_rows(T::randn64({k, d}, seed + 3)),
          torch::arange(k, torch::kLong).remainder(c)};
}

void expect_rows_near(const torch::Tensor& got, const T::Rows& want, double tol) {
  const T::Rows g = T::to_rows(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(g[i].size(), want[i].size());
    for (size_t j = 0; j < g[i].size(); ++j) EXPECT_NEAR(g[i][j], want[i][j], tol) << "row " << i << " col " << j;
  }
}

}  // namespace

TEST(SimMatch, TargetsMatchLoopReference) {
  const auto in = inputs(5, 3, 7, 4, 1);
  for (double tau : {0.1, 0.5}) {
    for (double alpha : {0.0, 0.5, 0.9, 1.0}) {
      const auto t = F::simmatch_targets(in.probs, in.weak, in.bank, in.labels,
                                         F::SimMatchOptions().temperature(tau).smoothing_alpha(alpha));
      const auto want = simmatch_loops(in.probs, in.weak, in.bank, in.labels, tau, alpha);
      expect_rows_near(t.class_probs, want.class_probs, 1e-12);
      expect_rows_near(t.instance_probs, want.instance_probs, 1e-12);
      EXPECT_TRUE(torch::allclose(t.class_probs.sum(1), torch::ones({5}, torch::kFloat64)));
      EXPECT_TRUE(torch::allclose(t.instance_probs.sum(1), torch::ones({5}, torch::kFloat64)));
    }
  }
}

TEST(SimMatch, ClosedFormWithOneLabeledImagePerClass) {
  // Bank e0 (class 0), e1 (class 1); the weak embedding 3 e0 normalises to e0, so the
  // similarities are (1, 0) / T and q = (e^(1/T), 1) / (e^(1/T) + 1).
  const double tau = 0.5, alpha = 0.8, p0 = 0.3;
  const auto bank = torch::eye(2, torch::kFloat64);
  const auto labels = torch::tensor({0, 1}, torch::kLong);
  const auto probs = torch::tensor({{p0, 1 - p0}}, torch::kFloat64);
  const auto weak = torch::tensor({{3.0, 0.0}}, torch::kFloat64);
  const auto t = F::simmatch_targets(probs, weak, bank, labels,
                                     F::SimMatchOptions().temperature(tau).smoothing_alpha(alpha));
  const double e = std::exp(1 / tau), q0 = e / (e + 1), q1 = 1 / (e + 1);
  EXPECT_NEAR(T::value(t.class_probs[0][0]), alpha * p0 + (1 - alpha) * q0, 1e-14);
  EXPECT_NEAR(T::value(t.class_probs[0][1]), alpha * (1 - p0) + (1 - alpha) * q1, 1e-14);
  const double u0 = q0 * p0, u1 = q1 * (1 - p0);
  EXPECT_NEAR(T::value(t.instance_probs[0][0]), u0 / (u0 + u1), 1e-14);
  // A strong embedding along e1 against that target: -sum_k t_k log softmax((0, 1) / T)_k.
  const auto strong = torch::tensor({{0.0, 2.0}}, torch::kFloat64);
  const double log_z = std::log(1 + e);
  const double want = -(u0 / (u0 + u1) * (0 - log_z) + u1 / (u0 + u1) * (1 / tau - log_z));
  EXPECT_NEAR(T::value(F::instance_similarity_loss(strong, bank, t.instance_probs, tau)), want, 1e-13);
}

TEST(SimMatch, PermutingTheBankPermutesOnlyTheInstanceTarget) {
  const auto in = inputs(4, 3, 6, 5, 10);
  const auto perm = torch::tensor({3, 0, 5, 1, 4, 2}, torch::kLong);
  const auto a = F::simmatch_targets(in.probs, in.weak, in.bank, in.labels);
  const auto b = F::simmatch_targets(in.probs, in.weak, in.bank.index_select(0, perm), in.labels.index_select(0, perm));
  EXPECT_TRUE(torch::allclose(a.class_probs, b.class_probs, 1e-12, 1e-14));
  EXPECT_TRUE(torch::allclose(a.instance_probs.index_select(1, perm), b.instance_probs, 1e-12, 1e-14));
  // And the instance loss is the same sum in another order.
  EXPECT_NEAR(T::value(F::instance_similarity_loss(in.strong, in.bank, a.instance_probs)),
              T::value(F::instance_similarity_loss(in.strong, in.bank.index_select(0, perm), b.instance_probs)), 1e-12);
}

TEST(SimMatch, AlphaOneKeepsThePredictionAndTargetsAreDetached) {
  const auto in = inputs(4, 3, 6, 5, 20);
  auto probs = in.probs.clone().requires_grad_();
  auto weak = in.weak.clone().requires_grad_();
  const auto t = F::simmatch_targets(probs, weak, in.bank, in.labels, F::SimMatchOptions().smoothing_alpha(1.0));
  EXPECT_TRUE(torch::equal(t.class_probs, in.probs));
  EXPECT_FALSE(t.class_probs.requires_grad());
  EXPECT_FALSE(t.instance_probs.requires_grad());
}

TEST(SimMatch, InstanceLossMatchesLoopsAndFiniteDifferences) {
  const auto in = inputs(5, 3, 7, 4, 30);
  const auto targets = F::simmatch_targets(in.probs, in.weak, in.bank, in.labels).instance_probs;
  for (double tau : {0.1, 0.7}) {
    EXPECT_NEAR(T::value(F::instance_similarity_loss(in.strong, in.bank, targets, tau)),
                instance_loss_loops(in.strong, in.bank, targets, tau), 1e-11);
  }
  auto strong = in.strong.clone().requires_grad_();
  auto bank = in.bank.clone().requires_grad_();
  const auto r = T::gradcheck([&](const auto& x) { return F::instance_similarity_loss(x[0], bank, targets, 0.5); },
                              {strong});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
  F::instance_similarity_loss(strong, bank, targets, 0.5).backward();
  EXPECT_FALSE(bank.grad().defined()) << "the bank is a memory, not a parameter";
}

TEST(SimMatch, RejectsBadArguments) {
  const auto in = inputs(4, 3, 6, 5, 40);
  T::expect_error_mentions(
      [&] { F::simmatch_targets(in.probs, in.weak, in.bank, in.labels, F::SimMatchOptions().temperature(-0.1)); },
      {"simmatch_targets", "temperature", "-0.1"});
  T::expect_error_mentions(
      [&] { F::simmatch_targets(in.probs, in.weak, in.bank, in.labels, F::SimMatchOptions().smoothing_alpha(1.5)); },
      {"smoothing_alpha", "1.5"});
  T::expect_error_mentions([&] { F::simmatch_targets(in.probs, in.weak, in.bank, in.labels + 1); },
                           {"bank_labels", "[0, 3)", "[1, 3]"});
  T::expect_error_mentions([&] { F::simmatch_targets(in.probs, in.weak.narrow(1, 0, 3), in.bank, in.labels); },
                           {"weak_embeddings", "dimension 5"});
  T::expect_error_mentions([&] { F::simmatch_targets(in.probs, in.weak.narrow(0, 0, 3), in.bank, in.labels); },
                           {"weak_embeddings", "one row per row"});
  T::expect_error_mentions(
      [&] { F::instance_similarity_loss(in.strong, in.bank, torch::ones({4, 5}, torch::kFloat64)); },
      {"instance_probs", "[4, 6]"});
}

TEST(LabeledBank, FirstWriteNormalisesLaterWritesBlend) {
  L::LabeledBank bank(L::LabeledBankOptions(3, 2).momentum(0.7));
  EXPECT_FALSE(bank->full());
  bank->update(torch::tensor({{3.0, 4.0}, {0.0, -2.0}}), torch::tensor({1, 2}, torch::kLong),
               torch::tensor({2, 0}, torch::kLong));
  EXPECT_TRUE(torch::allclose(bank->embeddings[2], torch::tensor({0.6f, 0.8f})));
  EXPECT_TRUE(torch::allclose(bank->embeddings[0], torch::tensor({0.0f, -1.0f})));
  EXPECT_FALSE(bank->full()) << "slot 1 was never written";
  bank->update(torch::tensor({{1.0, 0.0}, {5.0, 0.0}}), torch::tensor({0, 2}, torch::kLong),
               torch::tensor({1, 0}, torch::kLong));
  EXPECT_TRUE(bank->full());
  EXPECT_TRUE(torch::allclose(bank->embeddings[1], torch::tensor({1.0f, 0.0f})));
  // Slot 0: normalize(0.7 (0, -1) + 0.3 (1, 0)).
  const double nrm = std::sqrt(0.7 * 0.7 + 0.3 * 0.3);
  EXPECT_TRUE(torch::allclose(bank->embeddings[0], torch::tensor({0.3 / nrm, -0.7 / nrm}).to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(bank->labels, torch::tensor({2, 0, 1}, torch::kLong)));
  T::expect_error_mentions([&] { bank->update(torch::ones({1, 2}), torch::zeros({1}, torch::kLong),
                                              torch::tensor({3}, torch::kLong)); },
                           {"slots", "[0, 3)", "[3, 3]"});
  T::expect_error_mentions([&] { L::LabeledBank(L::LabeledBankOptions(3, 2).momentum(1.0)); }, {"momentum", "1"});
}
