#include "selfsup/losses/info_nce.h"

#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// Literal MoCo v2 InfoNCE: positive cos(q_i, k_i), negatives n(q_i) . u_j with the queue rows
// taken as they are.
double queue_loops(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                   double tau) {
  const T::Rows qs = T::to_rows(q), ks = T::to_rows(k), us = T::to_rows(queue);
  double total = 0;
  for (size_t i = 0; i < qs.size(); ++i) {
    const double positive = T::cosine(qs[i], ks[i]) / tau;
    const double qnorm = std::sqrt(T::dot(qs[i], qs[i]));
    double denom = std::exp(positive);
    for (const auto& u : us) denom += std::exp(T::dot(qs[i], u) / qnorm / tau);
    total += std::log(denom) - positive;
  }
  return total / static_cast<double>(qs.size());
}

// Literal MoCo v3 InfoNCE (unscaled): query i against every key j of the batch, target j = i.
double in_batch_loops(const torch::Tensor& q, const torch::Tensor& k, double tau) {
  const T::Rows qs = T::to_rows(q), ks = T::to_rows(k);
  double total = 0;
  for (size_t i = 0; i < qs.size(); ++i) {
    double denom = 0;
    for (const auto& kj : ks) denom += std::exp(T::cosine(qs[i], kj) / tau);
    total += std::log(denom) - T::cosine(qs[i], ks[i]) / tau;
  }
  return total / static_cast<double>(qs.size());
}


}  // namespace

TEST(InfoNCE, QueueFormMatchesLoopReference) {
  const auto q = T::randn64({5, 4}, 1), k = T::randn64({5, 4}, 2);
  const auto queue = T::unit_rows(T::randn64({7, 4}, 3));
  for (double tau : {0.07, 0.2, 1.0}) {
    EXPECT_NEAR(T::value(F::info_nce(q, k, queue, F::InfoNCEOptions().temperature(tau))),
                queue_loops(q, k, queue, tau), 1e-10)
        << "tau " << tau;
  }
}

TEST(InfoNCE, QueueIsUsedAsGiven) {
  // The queue holds keys normalized at enqueue time; it is not renormalized every step.
  const auto q = T::randn64({3, 4}, 4), k = T::randn64({3, 4}, 5);
  const auto queue = T::unit_rows(T::randn64({6, 4}, 6)) * 0.5;
  const double got = T::value(F::info_nce(q, k, queue));
  EXPECT_NEAR(got, queue_loops(q, k, queue, 0.2), 1e-10);
  EXPECT_GT(std::abs(got - queue_loops(q, k, T::unit_rows(queue), 0.2)), 1e-3);
}

TEST(InfoNCE, InBatchFormMatchesLoopReference) {
  const auto q = T::randn64({6, 5}, 7), k = T::randn64({6, 5}, 8);
  const double tau = 0.2;
  const double unscaled = in_batch_loops(q, k, tau);
  EXPECT_NEAR(T::value(F::info_nce_in_batch(q, k)), 2 * tau * unscaled, 1e-10);
  EXPECT_NEAR(T::value(F::info_nce_in_batch(
                  q, k, F::InfoNCEInBatchOptions().temperature(tau).scale_by_2tau(false))),
              unscaled, 1e-10);
}

TEST(InfoNCE, EmptyQueueUsesTheOtherKeysOfTheBatch) {
  const auto q = T::randn64({5, 3}, 9), k = T::randn64({5, 3}, 10);
  const double tau = 0.3;
  const auto options = F::InfoNCEOptions().temperature(tau);
  const double expected = in_batch_loops(q, k, tau);
  EXPECT_NEAR(T::value(F::info_nce(q, k, torch::Tensor(), options)), expected, 1e-10);
  EXPECT_NEAR(T::value(F::info_nce(q, k, torch::empty({0, 3}, torch::kFloat64), options)), expected,
              1e-10);
}

TEST(InfoNCE, ClosedForms) {
  const double tau = 0.2;
  const auto e = torch::eye(4, torch::kFloat64);
  const auto q = e.narrow(0, 0, 1) * 3, k = e.narrow(0, 0, 1);
  // Positive logit 1/tau, K = 3 orthogonal queued keys with logit 0.
  EXPECT_NEAR(T::value(F::info_nce(q, k, e.narrow(0, 1, 3))), std::log(1 + 3 * std::exp(-1 / tau)),
              1e-12);
  // A queued key opposite to q: logits [1, -1] / tau.
  EXPECT_NEAR(T::value(F::info_nce(q, k, -e.narrow(0, 0, 1))), std::log(1 + std::exp(-2 / tau)),
              1e-12);
  // Empty queue, N = 3 orthogonal queries equal to their keys: l = log(1 + 2 exp(-1/tau)).
  const auto qs = e.narrow(0, 0, 3);
  EXPECT_NEAR(T::value(F::info_nce(qs, qs.clone())), std::log(1 + 2 * std::exp(-1 / tau)), 1e-12);
  // MoCo v3 scales that by 2 tau.
  EXPECT_NEAR(T::value(F::info_nce_in_batch(qs, qs.clone())),
              2 * tau * std::log(1 + 2 * std::exp(-1 / tau)), 1e-12);
}

TEST(InfoNCE, InvariantToQueryAndKeyScale) {
  const auto q = T::randn64({4, 3}, 11), k = T::randn64({4, 3}, 12);
  const auto queue = T::unit_rows(T::randn64({5, 3}, 13));
  const auto s1 = T::uniform64({4, 1}, 0.1, 10, 14), s2 = T::uniform64({4, 1}, 0.1, 10, 15);
  EXPECT_NEAR(T::value(F::info_nce(q * s1, k * s2, queue)), T::value(F::info_nce(q, k, queue)),
              1e-12);
  EXPECT_NEAR(T::value(F::info_nce_in_batch(q * s1, k * s2)), T::value(F::info_nce_in_batch(q, k)),
              1e-12);
}

TEST(InfoNCE, GradientMatchesFiniteDifferences) {
  auto q = T::randn64({4, 5}, 16).requires_grad_();
  auto k = T::randn64({4, 5}, 17).requires_grad_();
  auto queue = T::unit_rows(T::randn64({6, 5}, 18)).requires_grad_();
  const auto with_queue =
      T::gradcheck([](const auto& in) { return F::info_nce(in[0], in[1], in[2]); }, {q, k, queue});
  EXPECT_TRUE(with_queue.ok) << "max abs error " << with_queue.max_abs_error;
  const auto in_batch =
      T::gradcheck([](const auto& in) { return F::info_nce_in_batch(in[0], in[1]); }, {q, k});
  EXPECT_TRUE(in_batch.ok) << "max abs error " << in_batch.max_abs_error;
}

TEST(InfoNCE, ModulesMatchFunctional) {
  const auto q = T::randn64({4, 3}, 19), k = T::randn64({4, 3}, 20);
  const auto queue = T::unit_rows(T::randn64({5, 3}, 21));
  selfsup::losses::InfoNCELoss v2(selfsup::losses::InfoNCEOptions().temperature(0.1));
  EXPECT_DOUBLE_EQ(T::value(v2(q, k, queue)),
                   T::value(F::info_nce(q, k, queue, F::InfoNCEOptions().temperature(0.1))));
  selfsup::losses::InfoNCEInBatchLoss v3;
  EXPECT_DOUBLE_EQ(T::value(v3(q, k)), T::value(F::info_nce_in_batch(q, k)));
}

TEST(InfoNCE, RejectsBadArguments) {
  const auto q = T::randn64({4, 3}, 22);
  T::expect_error_mentions(
      [&] { F::info_nce(q, q, torch::Tensor(), F::InfoNCEOptions().temperature(-0.5)); },
      {"info_nce", "temperature", "-0.5"});
  T::expect_error_mentions(
      [&] { F::info_nce_in_batch(q, q, F::InfoNCEInBatchOptions().temperature(0)); },
      {"info_nce_in_batch", "temperature"});
  T::expect_error_mentions(
      [&] {
        F::info_nce(q, T::randn64({3, 3}, 1));
      },
      {"q", "k", "[4, 3]", "[3, 3]"});
  T::expect_error_mentions([&] { F::info_nce(q, q, T::randn64({5, 4}, 1)); }, {"queue", "[5, 4]"});
  T::expect_error_mentions(
      [] { selfsup::losses::InfoNCELoss(selfsup::losses::InfoNCEOptions().temperature(0)); },
      {"temperature"});
}
