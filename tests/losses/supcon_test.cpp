#include "selfsup/losses/supcon.h"

#include <gtest/gtest.h>

#include "selfsup/losses/nt_xent.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// Literal L_out: per anchor, the mean over its positives of log-softmax over all other views;
// anchors without positives are skipped.
double supcon_loops(const torch::Tensor& z, const torch::Tensor& labels, double tau) {
  const T::Rows zs = T::to_rows(z);
  const auto y = labels.accessor<int64_t, 1>();
  double total = 0;
  int anchors = 0;
  for (size_t a = 0; a < zs.size(); ++a) {
    double denom = 0;
    for (size_t b = 0; b < zs.size(); ++b) {
      if (b != a) denom += std::exp(T::cosine(zs[a], zs[b]) / tau);
    }
    double sum = 0;
    int positives = 0;
    for (size_t p = 0; p < zs.size(); ++p) {
      if (p == a || y[p] != y[a]) continue;
      sum += T::cosine(zs[a], zs[p]) / tau - std::log(denom);
      ++positives;
    }
    if (positives == 0) continue;
    total += -sum / positives;
    ++anchors;
  }
  return total / anchors;
}

}  // namespace

TEST(SupCon, MatchesLoopReference) {
  // Three views of 4 samples over 3 classes, views stacked in a shuffled order.
  const auto z = T::randn64({12, 5}, 1);
  const auto labels = torch::tensor({0, 1, 2, 0, 0, 1, 2, 2, 1, 0, 1, 2}, torch::kLong);
  for (double tau : {0.1, 0.5}) {
    EXPECT_NEAR(T::value(F::supcon_loss(z, labels, F::SupConOptions().temperature(tau))),
                supcon_loops(z, labels, tau), 1e-10)
        << "tau " << tau;
  }
}

TEST(SupCon, EqualsNTXentWhenEachSampleIsItsOwnClass) {
  const int64_t n = 5;
  const auto z1 = T::randn64({n, 4}, 2), z2 = T::randn64({n, 4}, 3);
  const auto labels = torch::arange(n, torch::kLong).repeat({2});
  for (double tau : {0.1, 0.2, 0.7}) {
    EXPECT_NEAR(
        T::value(F::supcon_loss(torch::cat({z1, z2}), labels, F::SupConOptions().temperature(tau))),
        T::value(F::nt_xent(z1, z2, F::NTXentOptions().temperature(tau))), 1e-12)
        << "tau " << tau;
  }
}

TEST(SupCon, ViewsTensorEqualsStackedViews) {
  const auto z = T::randn64({4, 3, 5}, 4);  // [N, V, D]
  const auto labels = torch::tensor({1, 0, 1, 2}, torch::kLong);
  // Stacked view by view (the other natural order): the loss does not depend on the order.
  const auto stacked = torch::cat({z.select(1, 0), z.select(1, 1), z.select(1, 2)});
  EXPECT_NEAR(T::value(F::supcon_loss(z, labels)),
              T::value(F::supcon_loss(stacked, labels.repeat({3}))), 1e-12);
}

TEST(SupCon, ClosedForms) {
  const double tau = 0.25;
  const auto e = torch::eye(3, torch::kFloat64);
  // z = [e1, e1, e2, e3], labels [0, 0, 1, 1]: the e1 anchors see logits (1, 0, 0) / tau with
  // the positive first; e2 and e3 see three zero logits, one of them positive.
  const auto z = torch::stack({e[0], e[0], e[1], e[2]});
  const double first = std::log(std::exp(1 / tau) + 2) - 1 / tau;
  EXPECT_NEAR(T::value(F::supcon_loss(z, torch::tensor({0, 0, 1, 1}, torch::kLong),
                                      F::SupConOptions().temperature(tau))),
              (2 * first + 2 * std::log(3.0)) / 4, 1e-12);
  // Labels [0, 0, 1, 2]: the last two anchors have no positive and are left out of the mean.
  EXPECT_NEAR(T::value(F::supcon_loss(z, torch::tensor({0, 0, 1, 2}, torch::kLong),
                                      F::SupConOptions().temperature(tau))),
              first, 1e-12);
}

TEST(SupCon, NoPositivePairGivesZeroAndAFiniteGradient) {
  auto z = T::randn64({4, 3}, 5).requires_grad_();
  const auto loss = F::supcon_loss(z, torch::arange(4, torch::kLong));
  EXPECT_EQ(T::value(loss), 0.0);
  loss.backward();
  ASSERT_TRUE(z.grad().defined());
  EXPECT_TRUE(torch::isfinite(z.grad()).all().item<bool>());
}

TEST(SupCon, InvariantToPermutationAndScale) {
  const auto z = T::randn64({8, 4}, 6);
  const auto labels = torch::tensor({0, 1, 0, 1, 2, 2, 0, 1}, torch::kLong);
  const auto perm = torch::tensor({3, 7, 0, 5, 1, 6, 2, 4}, torch::kLong);
  const auto s = T::uniform64({8, 1}, 0.1, 10, 7);
  EXPECT_NEAR(T::value(F::supcon_loss((z * s).index_select(0, perm), labels.index_select(0, perm))),
              T::value(F::supcon_loss(z, labels)), 1e-12);
}

TEST(SupCon, GradientMatchesFiniteDifferences) {
  auto z = T::randn64({6, 5}, 8).requires_grad_();
  const auto labels = torch::tensor({0, 1, 0, 2, 1, 0}, torch::kLong);  // label 2 has no positive
  const auto r = T::gradcheck([&](const auto& in) { return F::supcon_loss(in[0], labels); }, {z});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(SupCon, ModuleMatchesFunctional) {
  const auto z = T::randn64({6, 3}, 9);
  const auto labels = torch::tensor({0, 1, 0, 1, 0, 1}, torch::kLong);
  selfsup::losses::SupConLoss loss(selfsup::losses::SupConOptions().temperature(0.3));
  EXPECT_DOUBLE_EQ(T::value(loss(z, labels)),
                   T::value(F::supcon_loss(z, labels, F::SupConOptions().temperature(0.3))));
}

TEST(SupCon, RejectsBadArguments) {
  const auto z = T::randn64({4, 3}, 10);
  const auto labels = torch::tensor({0, 1, 0, 1}, torch::kLong);
  T::expect_error_mentions([&] { F::supcon_loss(z, labels, F::SupConOptions().temperature(-0.1)); },
                           {"supcon_loss", "temperature", "-0.1"});
  T::expect_error_mentions([&] { F::supcon_loss(z, labels.to(torch::kFloat)); },
                           {"labels", "Float"});
  T::expect_error_mentions([&] { F::supcon_loss(z, labels.narrow(0, 0, 3)); },
                           {"labels", "[4]", "[3]"});
  T::expect_error_mentions([&] { F::supcon_loss(z.narrow(0, 0, 1), labels.narrow(0, 0, 1)); },
                           {"z", "[1, 3]"});
  T::expect_error_mentions(
      [&] {
        F::supcon_loss(z.view({2, 2, 3}), labels);
      },
      {"labels", "[2]", "[4]"});
}
