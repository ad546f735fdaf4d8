#include "selfsup/losses/pseudo_label.h"

#include <gtest/gtest.h>

#include <limits>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

struct Naive {
  std::vector<int64_t> labels;
  std::vector<double> confidence, mask;
};

// thresholds: one per class (a single threshold repeated).
Naive pseudo_labels_loops(const torch::Tensor& logits, const std::vector<double>& thresholds) {
  Naive n;
  for (const auto& row : T::to_rows(logits)) {
    const T::Row p = T::softmax(row);
    size_t best = 0;
    for (size_t c = 1; c < p.size(); ++c) best = p[c] > p[best] ? c : best;
    n.labels.push_back(static_cast<int64_t>(best));
    n.confidence.push_back(p[best]);
    n.mask.push_back(p[best] >= thresholds[best] ? 1.0 : 0.0);
  }
  return n;
}

double masked_ce_loops(const torch::Tensor& logits, const std::vector<int64_t>& y,
                       const std::vector<double>& mask, F::MaskedMean mean) {
  const T::Rows rows = T::to_rows(logits);
  double total = 0, accepted = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    total += mask[i] * -std::log(T::softmax(rows[i])[y[i]]);
    accepted += mask[i];
  }
  if (mean == F::MaskedMean::kBatch) return total / static_cast<double>(rows.size());
  return accepted > 0 ? total / accepted : 0.0;
}

const auto kPseudoLabelMeans = {F::MaskedMean::kBatch, F::MaskedMean::kAccepted};

}  // namespace

TEST(PseudoLabel, ThresholdMaskingMatchesLoopReference) {
  const auto logits = T::randn64({40, 4}, 1) * 3;  // a spread of confidences around 0.95
  const std::vector<double> per_class = {0.9, 0.5, 0.99, 0.7};
  for (const auto& thresholds : {std::vector<double>(4, 0.95), per_class}) {
    const auto got = thresholds == per_class
                         ? F::hard_pseudo_labels(logits, torch::tensor(per_class, torch::kFloat64))
                         : F::hard_pseudo_labels(logits, 0.95);
    const Naive want = pseudo_labels_loops(logits, thresholds);
    double accepted = 0;
    for (int64_t i = 0; i < 40; ++i) {
      EXPECT_EQ(got.labels[i].item<int64_t>(), want.labels[i]) << i;
      EXPECT_NEAR(got.confidence[i].item<double>(), want.confidence[i], 1e-12) << i;
      EXPECT_EQ(got.mask[i].item<double>(), want.mask[i]) << i;
      accepted += want.mask[i];
    }
    EXPECT_GT(accepted, 0);
    EXPECT_LT(accepted, 40);  // the test must see both outcomes
  }
}

TEST(PseudoLabel, ThresholdIsInclusive) {
  const auto tie = torch::zeros({1, 2}, torch::kFloat64);  // confidence exactly 0.5
  EXPECT_EQ(F::hard_pseudo_labels(tie, 0.5).mask.item<double>(), 1.0);
  EXPECT_EQ(F::hard_pseudo_labels(tie, 0.5 + 1e-12).mask.item<double>(), 0.0);
  const double inf = std::numeric_limits<double>::infinity();
  const auto one_hot = torch::tensor({{0.0, -inf}}, torch::kFloat64);
  EXPECT_EQ(F::hard_pseudo_labels(one_hot, 1.0).mask.item<double>(), 1.0);
}

TEST(PseudoLabel, MaskedCrossEntropyMatchesLoopReferenceBothWays) {
  const auto logits = T::randn64({7, 5}, 2);
  const std::vector<int64_t> y = {0, 4, 2, 2, 1, 3, 0};
  const std::vector<double> m = {1, 0, 1, 1, 0, 0, 1};
  for (auto mean : kPseudoLabelMeans) {
    EXPECT_NEAR(T::value(F::masked_cross_entropy(logits, torch::tensor(y), torch::tensor(m), mean)),
                masked_ce_loops(logits, y, m, mean), 1e-12);
  }
}

TEST(PseudoLabel, MaskedCrossEntropyGradientMatchesFiniteDifferences) {
  const auto y = torch::tensor({1, 0, 3, 2}, torch::kLong);
  const auto m = torch::tensor({1.0, 0.0, 1.0, 1.0}, torch::kFloat64);
  for (auto mean : kPseudoLabelMeans) {
    auto logits = T::randn64({4, 4}, 3).requires_grad_();
    const auto r = T::gradcheck(
        [&](const auto& in) { return F::masked_cross_entropy(in[0], y, m, mean); }, {logits});
    EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
  }
}

TEST(PseudoLabel, LossIsMaskedCrossEntropyTowardDetachedTargets) {
  const auto strong = T::randn64({30, 3}, 4);
  auto weak = (T::randn64({30, 3}, 5) * 3).requires_grad_();
  for (auto mean : kPseudoLabelMeans) {
    const auto out = F::pseudo_label_loss(strong, weak, F::PseudoLabelOptions().masked_mean(mean));
    const Naive want = pseudo_labels_loops(weak, std::vector<double>(3, 0.95));
    EXPECT_NEAR(T::value(out.loss), masked_ce_loops(strong, want.labels, want.mask, mean), 1e-12);
    EXPECT_FALSE(out.loss.requires_grad()) << "no gradient may reach the weak view";
  }
  // Pseudo-Label: the same logits on both sides. Finite differences move the targets too, but they
  // are piecewise constant, so the gradient must be that of the cross-entropy side alone.
  auto logits = (T::randn64({6, 3}, 6) * 3).requires_grad_();
  const auto opts = F::PseudoLabelOptions().threshold(0.6);
  const auto r = T::gradcheck(
      [&](const auto& in) { return F::pseudo_label_loss(in[0], in[0], opts).loss; }, {logits});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(PseudoLabel, ModuleMatchesFunctionalAndRejectsBadArguments) {
  const auto a = T::randn64({5, 3}, 7), b = T::randn64({5, 3}, 8) * 4;
  const auto opts = F::PseudoLabelOptions().threshold(0.7);
  selfsup::losses::PseudoLabelLoss loss(opts);
  EXPECT_DOUBLE_EQ(T::value(loss(a, b).loss), T::value(F::pseudo_label_loss(a, b, opts).loss));
  EXPECT_DOUBLE_EQ(F::PseudoLabelOptions().threshold(), 0.95);
  EXPECT_EQ(F::PseudoLabelOptions().masked_mean(), F::MaskedMean::kBatch);
  T::expect_error_mentions(
      [] { selfsup::losses::PseudoLabelLoss(F::PseudoLabelOptions().threshold(1.5)); },
      {"pseudo_label_loss", "threshold", "1.5"});
  T::expect_error_mentions([&] { F::hard_pseudo_labels(a, torch::tensor({0.5, 0.5})); },
                           {"hard_pseudo_labels", "thresholds", "[3]", "[2]"});
  T::expect_error_mentions([&] { F::hard_pseudo_labels(a, torch::tensor({0.5, -0.1, 0.5})); },
                           {"hard_pseudo_labels", "[0, 1]", "-0.1"});
  T::expect_error_mentions([&] { F::pseudo_label_loss(a, b.narrow(1, 0, 2)); },
                           {"pseudo_label_loss", "[5, 3]", "[5, 2]"});
  const auto m = torch::ones({5}, torch::kFloat64);
  T::expect_error_mentions(
      [&] { F::masked_cross_entropy(a, torch::zeros({4}, torch::kLong), m); },
      {"masked_cross_entropy", "labels", "[5]", "[4]"});
  T::expect_error_mentions([&] { F::masked_cross_entropy(a, torch::zeros({5}), m); },
                           {"masked_cross_entropy", "labels", "int64", "Float"});
  T::expect_error_mentions(
      [&] { F::masked_cross_entropy(a, torch::zeros({5}, torch::kLong), torch::ones({5, 1})); },
      {"masked_cross_entropy", "mask", "[5, 1]"});
}
