#include "selfsup/losses/consistency.h"

#include <gtest/gtest.h>

#include <limits>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// p^(1/T) / sum_k p_k^(1/T), row by row, exactly as MixMatch writes it.
T::Rows sharpen_loops(const torch::Tensor& p, double t) {
  T::Rows rows = T::to_rows(p);
  for (auto& row : rows) {
    double z = 0;
    for (double& v : row) z += (v = std::pow(v, 1 / t));
    for (double& v : row) v /= z;
  }
  return rows;
}

double softmax_mse_loops(const torch::Tensor& logits, const torch::Tensor& targets) {
  const T::Rows l = T::to_rows(logits), t = T::to_rows(targets);
  double total = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    double z = 0;
    for (double v : l[i]) z += std::exp(v);
    for (size_t c = 0; c < l[i].size(); ++c) total += std::pow(std::exp(l[i][c]) / z - t[i][c], 2);
  }
  return total / static_cast<double>(l.size() * l[0].size());
}

torch::Tensor probabilities(int64_t n, int64_t c, uint64_t seed) {
  return torch::softmax(T::randn64({n, c}, seed) * 2, 1);
}

}  // namespace

TEST(Sharpen, MatchesLoopReference) {
  const auto p = probabilities(5, 4, 1);
  for (double t : {0.3, 0.5, 1.0, 2.0}) {
    const T::Rows want = sharpen_loops(p, t), got = T::to_rows(F::sharpen(p, t));
    for (size_t i = 0; i < want.size(); ++i) {
      for (size_t c = 0; c < want[i].size(); ++c) EXPECT_NEAR(got[i][c], want[i][c], 1e-12);
    }
  }
}

TEST(Sharpen, ClosedForms) {
  const auto p = probabilities(4, 3, 2);
  EXPECT_TRUE(torch::allclose(F::sharpen(p, 1.0), p, 0, 1e-15)) << "T = 1 is the identity";
  // sharpen(softmax(l), T) = softmax(l / T): UDA's targets.
  const auto l = T::randn64({4, 3}, 3);
  EXPECT_TRUE(torch::allclose(F::sharpen(torch::softmax(l, 1), 0.4), torch::softmax(l / 0.4, 1),
                              0, 1e-14));
  // T -> 0 gives the one-hot argmax without 0 / 0, exact zeros stay zero for any T.
  const auto q = torch::tensor({{0.6, 0.4, 0.0}}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(F::sharpen(q, 1e-4), torch::tensor({{1.0, 0.0, 0.0}}, torch::kFloat64)));
  EXPECT_EQ(F::sharpen(q, 3.0)[0][2].item<double>(), 0.0);
  auto g = q.clone().requires_grad_();
  F::sharpen(g, 0.5)[0][0].backward();
  EXPECT_TRUE(torch::isfinite(g.grad()).all().item<bool>()) << g.grad();
}

TEST(SoftmaxMSE, MatchesLoopReferenceAndClosedForms) {
  const auto logits = T::randn64({6, 4}, 4);
  const auto targets = probabilities(6, 4, 5);
  EXPECT_NEAR(T::value(F::softmax_mse_loss(logits, targets)), softmax_mse_loops(logits, targets),
              1e-12);
  EXPECT_NEAR(T::value(F::softmax_mse_loss(logits, torch::softmax(logits, 1))), 0.0, 1e-15);
  // Opposite one-hots: (1 + 1) / C per sample.
  const double inf = std::numeric_limits<double>::infinity();
  const auto hard = torch::tensor({{0.0, -inf}}, torch::kFloat64);
  EXPECT_NEAR(T::value(F::softmax_mse_loss(hard, torch::tensor({{0.0, 1.0}}, torch::kFloat64))),
              1.0, 1e-15);
}

TEST(SoftmaxMSE, GradientReachesLogitsOnly) {
  auto logits = T::randn64({4, 3}, 6).requires_grad_();
  const auto targets = probabilities(4, 3, 7);
  const auto r = T::gradcheck([&](const auto& in) { return F::softmax_mse_loss(in[0], targets); },
                              {logits});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
  // Pi-model / Mean Teacher: the target side (weak view, teacher) must get no gradient.
  auto student = T::randn64({4, 3}, 8).requires_grad_();
  auto teacher = T::randn64({4, 3}, 9).requires_grad_();
  F::softmax_mse_loss(student, torch::softmax(teacher, 1)).backward();
  EXPECT_GT(student.grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(teacher.grad().defined()) << "the stop-gradient leaked into the target";
}

TEST(SoftmaxMSE, ModuleMatchesFunctionalAndRejectsBadArguments) {
  const auto logits = T::randn64({3, 4}, 10);
  const auto targets = probabilities(3, 4, 11);
  selfsup::losses::SoftmaxMSELoss loss;
  EXPECT_DOUBLE_EQ(T::value(loss(logits, targets)),
                   T::value(F::softmax_mse_loss(logits, targets)));
  T::expect_error_mentions([&] { F::softmax_mse_loss(logits, probabilities(3, 5, 1)); },
                           {"softmax_mse_loss", "[3, 4]", "[3, 5]"});
  T::expect_error_mentions([&] { F::sharpen(targets, 0); }, {"sharpen", "temperature", "0"});
  T::expect_error_mentions([&] { F::sharpen(targets.to(torch::kLong), 0.5); },
                           {"sharpen", "Long"});
}
