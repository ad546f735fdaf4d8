// Distribution alignment: the aligned logits against the probability formula written out, a
// closed form, class-permutation symmetry, the running marginal against a loop, its checkpoint,
// and the errors.
#include "selfsup/losses/dist_align.h"

#include <gtest/gtest.h>

#include <sstream>

#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace L = selfsup::losses;
namespace T = selfsup::testing;

namespace {

// q~_ic = q_ic (t_c + 1e-6) / (p_c + 1e-6) / sum_c' (...), in plain doubles.
T::Rows aligned_naive(const T::Rows& logits, const T::Row& p_model, const T::Row& p_target) {
  T::Rows out;
  for (const auto& z : logits) {
    double zmax = z[0], total = 0;
    for (double v : z) zmax = std::max(zmax, v);
    T::Row q(z.size());
    for (size_t c = 0; c < z.size(); ++c) {
      q[c] = std::exp(z[c] - zmax) * (p_target[c] + 1e-6) / (p_model[c] + 1e-6);
      total += q[c];
    }
    for (double& v : q) v /= total;
    out.push_back(q);
  }
  return out;
}

T::Row row(const torch::Tensor& t) { return T::to_rows(t.reshape({1, -1}))[0]; }

}  // namespace

TEST(DistributionAlignment, MatchesTheProbabilityFormula) {
  const auto logits = T::randn64({16, 5}, 1) * 3;
  const auto p_model = torch::softmax(T::randn64({5}, 2), 0);
  const auto p_target = torch::softmax(T::randn64({5}, 3), 0);
  const auto got = T::to_rows(torch::softmax(F::distribution_align(logits, p_model, p_target), 1));
  const auto want = aligned_naive(T::to_rows(logits), row(p_model), row(p_target));
  for (size_t i = 0; i < want.size(); ++i) {
    for (size_t c = 0; c < want[i].size(); ++c) EXPECT_NEAR(got[i][c], want[i][c], 1e-12) << i << "," << c;
  }
}

TEST(DistributionAlignment, ClosedFormAndIdentity) {
  // A model that predicts class 0 four times as often as class 1, aligned to uniform: an
  // undecided (0.5, 0.5) prediction becomes (0.2, 0.8).
  const auto even = torch::zeros({1, 2}, torch::kFloat64);
  const auto uniform = torch::full({2}, 0.5, torch::kFloat64);
  const auto q = torch::softmax(F::distribution_align(even, torch::tensor({0.8, 0.2}, torch::kFloat64), uniform), 1);
  EXPECT_NEAR(q[0][0].item<double>(), 0.2, 1e-6);
  EXPECT_NEAR(q[0][1].item<double>(), 0.8, 1e-6);
  // p_model = p_target changes nothing.
  const auto logits = T::randn64({8, 4}, 4);
  const auto p = torch::softmax(T::randn64({4}, 5), 0);
  EXPECT_TRUE(torch::allclose(torch::softmax(F::distribution_align(logits, p, p), 1), torch::softmax(logits, 1),
                              1e-12, 1e-12));
}

TEST(DistributionAlignment, PermutingClassesPermutesTheOutput) {
  const auto logits = T::randn64({6, 4}, 6);
  const auto p_model = torch::softmax(T::randn64({4}, 7), 0);
  const auto p_target = torch::softmax(T::randn64({4}, 8), 0);
  const auto perm = torch::tensor({2, 0, 3, 1}, torch::kLong);
  const auto a = F::distribution_align(logits, p_model, p_target).index_select(1, perm);
  const auto b = F::distribution_align(logits.index_select(1, perm), p_model.index_select(0, perm),
                                       p_target.index_select(0, perm));
  EXPECT_TRUE(torch::allclose(a, b, 1e-12, 1e-12));
}

TEST(DistributionAlignment, RunningMarginalFollowsTheEmaRuleAndTheCheckpoint) {
  const double m = 0.9;
  L::DistributionAlignment da(L::DistributionAlignmentOptions(3).momentum(m));
  T::Row p(3);
  for (uint64_t step = 0; step < 5; ++step) {
    const auto logits = (T::randn64({10, 3}, 20 + step) + torch::tensor({2.0, 0.0, -1.0}, torch::kFloat64)).requires_grad_();
    const auto out = da->forward(logits);
    EXPECT_FALSE(out.requires_grad()) << "targets must be detached";
    const auto q = T::to_rows(torch::softmax(logits.detach(), 1));
    T::Row mean(3, 0.0);
    for (const auto& r : q) {
      for (size_t c = 0; c < 3; ++c) mean[c] += r[c] / 10.0;
    }
    for (size_t c = 0; c < 3; ++c) p[c] = step == 0 ? mean[c] : m * p[c] + (1 - m) * mean[c];
    for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(da->p_model[c].item<double>(), p[c], 1e-12) << step;
    // The batch is aligned with the marginal that includes it (USB's order).
    const auto want = aligned_naive(T::to_rows(logits.detach()), p, {1.0 / 3, 1.0 / 3, 1.0 / 3});
    const auto got = T::to_rows(torch::softmax(out, 1));
    EXPECT_NEAR(got[4][0], want[4][0], 1e-12);
  }
  // Class 0 is over-predicted: aligned, its share of the batch falls.
  const auto logits = T::randn64({10, 3}, 40) + torch::tensor({2.0, 0.0, -1.0}, torch::kFloat64);
  EXPECT_LT(torch::softmax(da->forward(logits), 1).select(1, 0).mean().item<double>(),
            torch::softmax(logits, 1).select(1, 0).mean().item<double>());
  std::stringstream saved;
  torch::save(da, saved);
  L::DistributionAlignment fresh(L::DistributionAlignmentOptions(3).momentum(m));
  torch::load(fresh, saved);
  EXPECT_TRUE(torch::equal(fresh->p_model, da->p_model));
  EXPECT_EQ(fresh->updates.item<int64_t>(), 6);
}

TEST(DistributionAlignment, BfloatLogitsComeBackInFloat) {
  const auto logits = T::randn64({4, 3}, 9).to(torch::kBFloat16);
  const auto p = torch::full({3}, 1.0 / 3, torch::kFloat64);
  EXPECT_EQ(F::distribution_align(logits, p, p).scalar_type(), torch::kFloat32);
}

TEST(DistributionAlignment, BadInputNamesTheArgument) {
  const auto logits = T::randn64({4, 3}, 10);
  const auto p = torch::full({3}, 1.0 / 3, torch::kFloat64);
  T::expect_error_mentions([&] { F::distribution_align(logits, torch::full({4}, 0.25), p); },
                           {"distribution_align", "p_model", "[3]"});
  T::expect_error_mentions([&] { F::distribution_align(logits, p, torch::tensor({0.5, 0.7, -0.2})); },
                           {"p_target", "non-negative"});
  T::expect_error_mentions([&] { L::DistributionAlignment(L::DistributionAlignmentOptions(3).momentum(1.0)); },
                           {"momentum", "[0, 1)"});
  L::DistributionAlignment da(L::DistributionAlignmentOptions(3));
  T::expect_error_mentions([&] { da->forward(T::randn64({4, 5}, 11)); }, {"3 columns", "[4, 5]"});
}
