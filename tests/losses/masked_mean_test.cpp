#include "selfsup/losses/masked_mean.h"

#include <gtest/gtest.h>

#include <limits>

#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double masked_mean_loops(const torch::Tensor& l, const torch::Tensor& m, F::MaskedMean mean) {
  const T::Row ls = T::to_rows(l.view({1, -1}))[0], ms = T::to_rows(m.view({1, -1}))[0];
  double total = 0, accepted = 0;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (ms[i] != 0) total += ms[i] * ls[i];
    accepted += ms[i];
  }
  if (mean == F::MaskedMean::kBatch) return total / static_cast<double>(ls.size());
  return accepted > 0 ? total / accepted : 0.0;
}

}  // namespace

TEST(MaskedMean, MatchesLoopReferenceBothWays) {
  const auto l = T::uniform64({9}, 0, 3, 1);
  const auto m = (T::uniform64({9}, 0, 1, 2) > 0.5).to(torch::kFloat64);
  ASSERT_GT(m.sum().item<double>(), 0);
  ASSERT_LT(m.sum().item<double>(), 9);
  for (auto mean : {F::MaskedMean::kBatch, F::MaskedMean::kAccepted}) {
    EXPECT_NEAR(T::value(F::masked_mean(l, m, mean)), masked_mean_loops(l, m, mean), 1e-12)
        << F::masked_mean_name(mean);
    EXPECT_NEAR(T::value(F::masked_mean(l, m > 0, mean)), masked_mean_loops(l, m, mean), 1e-12)
        << "bool mask";
  }
  // kBatch is the default (USB's), and the two differ by the mask rate.
  EXPECT_DOUBLE_EQ(T::value(F::masked_mean(l, m)),
                   T::value(F::masked_mean(l, m, F::MaskedMean::kBatch)));
  EXPECT_NEAR(T::value(F::masked_mean(l, m, F::MaskedMean::kBatch)),
              T::value(F::masked_mean(l, m, F::MaskedMean::kAccepted)) * m.mean().item<double>(),
              1e-12);
}

TEST(MaskedMean, NothingAcceptedGivesZeroWithZeroGradient) {
  for (auto mean : {F::MaskedMean::kBatch, F::MaskedMean::kAccepted}) {
    auto l = T::uniform64({5}, 0, 3, 3).requires_grad_();
    const auto loss = F::masked_mean(l, torch::zeros({5}, torch::kFloat64), mean);
    EXPECT_EQ(T::value(loss), 0.0);
    loss.backward();
    EXPECT_EQ(l.grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(MaskedMean, RejectedInfiniteLossIsIgnoredAndMaskGetsNoGradient) {
  auto l = torch::tensor({1.0, std::numeric_limits<double>::infinity(), 3.0}, torch::kFloat64);
  auto m = torch::tensor({1.0, 0.0, 1.0}, torch::kFloat64).requires_grad_();
  const auto loss = F::masked_mean(l.requires_grad_(), m, F::MaskedMean::kAccepted);
  EXPECT_DOUBLE_EQ(T::value(loss), 2.0);
  loss.backward();
  EXPECT_FALSE(m.grad().defined()) << "the mask must be a constant";
  EXPECT_NEAR(l.grad()[0].item<double>(), 0.5, 1e-15);
  EXPECT_EQ(l.grad()[1].item<double>(), 0.0);
}

TEST(MaskedMean, ParsesConfigNames) {
  EXPECT_EQ(F::parse_masked_mean("batch"), F::MaskedMean::kBatch);
  EXPECT_EQ(F::parse_masked_mean("accepted"), F::MaskedMean::kAccepted);
  EXPECT_STREQ(F::masked_mean_name(F::MaskedMean::kAccepted), "accepted");
  T::expect_error_mentions([] { F::parse_masked_mean("mean", "method.masked_mean"); },
                           {"method.masked_mean", "'mean'", "batch", "accepted"});
}

TEST(MaskedMean, RejectsBadArguments) {
  const auto l = T::uniform64({4}, 0, 1, 4);
  T::expect_error_mentions([&] { F::masked_mean(l, torch::ones({3})); },
                           {"masked_mean", "mask", "[4]", "[3]"});
  T::expect_error_mentions([&] { F::masked_mean(l.narrow(0, 0, 0), torch::ones({0})); },
                           {"masked_mean", "per_sample", "[0]"});
  T::expect_error_mentions([&] { F::masked_mean(l.to(torch::kLong), torch::ones({4})); },
                           {"per_sample", "Long"});
}
