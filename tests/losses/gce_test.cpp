#include "selfsup/losses/gce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double gce_loops(const torch::Tensor& logits, const torch::Tensor& labels, double q) {
  const T::Rows l = T::to_rows(logits);
  double total = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const double py = T::softmax(l[i])[labels[i].item<int64_t>()];
    total += (1 - std::pow(py, q)) / q;
  }
  return total / static_cast<double>(l.size());
}

}  // namespace

TEST(GeneralizedCrossEntropy, MatchesLoopReference) {
  const auto logits = T::randn64({7, 5}, 1) * 3;
  const auto y = T::random_labels(7, 5, 2);
  for (double q : {0.1, 0.3, 0.7, 1.0}) {
    EXPECT_NEAR(T::value(F::generalized_cross_entropy(logits, y, F::GceOptions().q(q))), gce_loops(logits, y, q), 1e-12)
        << "q " << q;
  }
}

TEST(GeneralizedCrossEntropy, ClosedForms) {
  const auto y = T::random_labels(4, 6, 3);
  // Uniform logits: p_y = 1 / C, so L_q = (1 - C^-q) / q.
  const auto flat = torch::zeros({4, 6}, torch::kFloat64);
  EXPECT_NEAR(T::value(F::generalized_cross_entropy(flat, y)), (1 - std::pow(6.0, -0.7)) / 0.7, 1e-12);
  // q = 1: the mean absolute error 1 - p_y.
  const auto logits = T::randn64({4, 6}, 4);
  const auto py = torch::softmax(logits, 1).gather(1, y.unsqueeze(1)).squeeze(1);
  EXPECT_NEAR(T::value(F::generalized_cross_entropy(logits, y, F::GceOptions().q(1.0))), T::value((1 - py).mean()), 1e-12);
  // q -> 0: cross-entropy.
  const double ce = T::value(torch::nn::functional::cross_entropy(logits, y));
  EXPECT_NEAR(T::value(F::generalized_cross_entropy(logits, y, F::GceOptions().q(1e-7))), ce, 1e-5);
  // A confident wrong prediction costs at most 1 / q (bounded, unlike cross-entropy).
  auto wrong = torch::zeros({1, 6}, torch::kFloat64);
  wrong[0][(y[0].item<int64_t>() + 1) % 6] = 200;
  EXPECT_NEAR(T::value(F::generalized_cross_entropy(wrong, y.slice(0, 0, 1))), 1 / 0.7, 1e-12);
}

// d L_q / d logits_i = p_y^q (d CE_i / d logits_i): cross-entropy's gradient, scaled per example.
TEST(GeneralizedCrossEntropy, GradientIsCrossEntropysScaledByPyToTheQ) {
  const auto y = T::random_labels(5, 4, 5);
  auto a = (T::randn64({5, 4}, 6) * 2).requires_grad_();
  F::generalized_cross_entropy(a, y).backward();
  auto b = a.detach().clone().requires_grad_();
  torch::nn::functional::cross_entropy(b, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
      .backward();
  const auto py = torch::softmax(a.detach(), 1).gather(1, y.unsqueeze(1));
  EXPECT_TRUE(torch::allclose(a.grad(), b.grad() * py.pow(0.7) / 5, 1e-10, 1e-12));
}

TEST(GeneralizedCrossEntropy, GradientMatchesFiniteDifferences) {
  const auto y = T::random_labels(6, 3, 7);
  for (double q : {0.2, 0.7, 1.0}) {
    const auto r = T::gradcheck(
        [&](const std::vector<torch::Tensor>& in) { return F::generalized_cross_entropy(in[0], y, F::GceOptions().q(q)); },
        {T::randn64({6, 3}, 8).requires_grad_()});
    EXPECT_TRUE(r.ok) << "q " << q << ": max abs error " << r.max_abs_error;
  }
}

TEST(GeneralizedCrossEntropy, ReducedPrecisionIsComputedInFloat) {
  const auto logits = T::randn64({8, 5}, 9);
  const auto y = T::random_labels(8, 5, 10);
  const auto got = F::generalized_cross_entropy(logits.to(torch::kBFloat16), y);
  EXPECT_EQ(got.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(got.item<double>(), gce_loops(logits.to(torch::kBFloat16).to(torch::kFloat64), y, 0.7), 1e-5);
}

TEST(GeneralizedCrossEntropy, BadArgumentsAreNamed) {
  const auto logits = T::randn64({3, 4}, 11);
  const auto y = T::random_labels(3, 4, 12);
  for (double q : {0.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    T::expect_error_mentions([&] { F::generalized_cross_entropy(logits, y, F::GceOptions().q(q)); },
                             {"generalized_cross_entropy", "q must be in (0, 1]"});
  }
  T::expect_error_mentions([&] { F::generalized_cross_entropy(logits, y.slice(0, 0, 2)); }, {"labels", "[3]"});
  T::expect_error_mentions([&] { F::generalized_cross_entropy(logits, y.to(torch::kFloat32)); }, {"int64"});
}

TEST(GeneralizedCrossEntropy, ModuleMatchesFunctional) {
  selfsup::losses::GeneralizedCrossEntropy m(F::GceOptions().q(0.4));
  const auto logits = T::randn64({5, 3}, 13);
  const auto y = T::random_labels(5, 3, 14);
  EXPECT_DOUBLE_EQ(T::value(m(logits, y)), T::value(F::generalized_cross_entropy(logits, y, F::GceOptions().q(0.4))));
}
