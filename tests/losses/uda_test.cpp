#include "selfsup/losses/uda.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "selfsup/losses/pseudo_label.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double soft_ce_loops(const torch::Tensor& logits, const T::Rows& targets,
                     const std::vector<double>& mask, F::MaskedMean mean) {
  const T::Rows l = T::to_rows(logits);
  double total = 0, accepted = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const T::Row p = T::softmax(l[i]);
    double h = 0;
    for (size_t c = 0; c < p.size(); ++c) h -= targets[i][c] * std::log(p[c]);
    total += mask[i] * h;
    accepted += mask[i];
  }
  if (mean == F::MaskedMean::kBatch) return total / static_cast<double>(l.size());
  return accepted > 0 ? total / accepted : 0.0;
}

const auto kUdaMeans = {F::MaskedMean::kBatch, F::MaskedMean::kAccepted};

}  // namespace

TEST(UDA, MaskedSoftCrossEntropyMatchesLoopReference) {
  const auto logits = T::randn64({6, 4}, 1);
  const auto targets = torch::softmax(T::randn64({6, 4}, 2), 1);
  const std::vector<double> m = {1, 1, 0, 1, 0, 1};
  for (auto mean : kUdaMeans) {
    EXPECT_NEAR(T::value(F::masked_soft_cross_entropy(logits, targets, torch::tensor(m), mean)),
                soft_ce_loops(logits, T::to_rows(targets), m, mean), 1e-12);
    // One-hot targets give the hard masked cross-entropy.
    const auto y = torch::tensor({3, 0, 1, 1, 2, 0}, torch::kLong);
    EXPECT_NEAR(T::value(F::masked_soft_cross_entropy(
                    logits, torch::one_hot(y, 4).to(torch::kFloat64), torch::tensor(m), mean)),
                T::value(F::masked_cross_entropy(logits, y, torch::tensor(m), mean)), 1e-12);
  }
}

TEST(UDA, MaskedSoftCrossEntropyGradientMatchesFiniteDifferences) {
  const auto targets = torch::softmax(T::randn64({4, 3}, 3), 1);
  const auto m = torch::tensor({1.0, 0.0, 1.0, 1.0}, torch::kFloat64);
  for (auto mean : kUdaMeans) {
    auto logits = T::randn64({4, 3}, 4).requires_grad_();
    const auto r = T::gradcheck(
        [&](const auto& in) { return F::masked_soft_cross_entropy(in[0], targets, m, mean); },
        {logits});
    EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
  }
}

TEST(UDA, LossMatchesLoopReferenceWithSharpenedMaskedTargets) {
  const auto strong = T::randn64({40, 3}, 5);
  auto weak = (T::randn64({40, 3}, 6) * 2).requires_grad_();
  for (auto mean : kUdaMeans) {
    const auto opts = F::UDAOptions().masked_mean(mean);
    const auto out = F::uda_loss(strong, weak, opts);
    // Mask from the unsharpened confidence >= 0.8; target T::softmax(weak / 0.4).
    T::Rows targets;
    std::vector<double> mask;
    for (const auto& row : T::to_rows(weak)) {
      const T::Row p = T::softmax(row);
      mask.push_back(*std::max_element(p.begin(), p.end()) >= 0.8 ? 1.0 : 0.0);
      targets.push_back(T::softmax(row, 0.4));
    }
    const double accepted = std::accumulate(mask.begin(), mask.end(), 0.0);
    ASSERT_GT(accepted, 0);
    ASSERT_LT(accepted, 40);
    EXPECT_NEAR(T::value(out.mask.sum()), accepted, 0);
    EXPECT_NEAR(T::value(out.loss), soft_ce_loops(strong, targets, mask, mean), 1e-12);
    EXPECT_FALSE(out.loss.requires_grad()) << "no gradient may reach the weak view";
  }
  EXPECT_DOUBLE_EQ(F::UDAOptions().temperature(), 0.4);
  EXPECT_DOUBLE_EQ(F::UDAOptions().threshold(), 0.8);
}

TEST(UDA, ModuleMatchesFunctionalAndRejectsBadArguments) {
  const auto a = T::randn64({5, 3}, 7), b = T::randn64({5, 3}, 8) * 3;
  const auto opts = F::UDAOptions().threshold(0.6).temperature(0.5);
  selfsup::losses::UDALoss loss(opts);
  EXPECT_DOUBLE_EQ(T::value(loss(a, b).loss), T::value(F::uda_loss(a, b, opts).loss));
  T::expect_error_mentions([] { selfsup::losses::UDALoss(F::UDAOptions().temperature(-1)); },
                           {"uda_loss", "temperature", "-1"});
  T::expect_error_mentions([&] { F::uda_loss(a, b, F::UDAOptions().threshold(2)); },
                           {"uda_loss", "threshold", "2"});
  T::expect_error_mentions(
      [&] { F::masked_soft_cross_entropy(a, b, torch::ones({4}, torch::kFloat64)); },
      {"masked_soft_cross_entropy", "mask", "[5]", "[4]"});
}
