// A binary classifier's figures (accuracy, precision, recall, F1, AUC) and the two estimators of
// the class prior, on synthetic data with a known prior.
#include "selfsup/eval/pu.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/error_of.h"

using namespace selfsup;

namespace {

torch::Tensor normal64(int64_t n, double mean, double sd, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn({n}, gen, torch::kFloat64) * sd + mean;
}

// Pairs counted one by one: the definition the rank formula must agree with.
double auc_by_pairs(const torch::Tensor& s, const torch::Tensor& y) {
  double wins = 0, pairs = 0;
  for (int64_t i = 0; i < s.size(0); ++i) {
    if (y[i].item<int64_t>() != 1) continue;
    for (int64_t j = 0; j < s.size(0); ++j) {
      if (y[j].item<int64_t>() != 0) continue;
      const double a = s[i].item<double>(), b = s[j].item<double>();
      wins += a > b ? 1.0 : a == b ? 0.5 : 0.0;
      pairs += 1;
    }
  }
  return wins / pairs;
}

}  // namespace

TEST(BinaryFigures, CountsAndRatiosOfAHandMadeCase) {
  // Decisions > 0 are positive: TP 2 (rows 0, 1), FN 1 (row 2), FP 1 (row 3), TN 2 (rows 4, 5).
  const auto d = torch::tensor({2.0, 0.5, -1.0, 0.1, -0.2, 0.0}, torch::kFloat64);
  const auto y = torch::tensor({1, 1, 1, 0, 0, 0}, torch::kLong);
  const auto f = eval::binary_figures(d, y);
  EXPECT_EQ(f.true_positives, 2);
  EXPECT_EQ(f.false_negatives, 1);
  EXPECT_EQ(f.false_positives, 1);
  EXPECT_EQ(f.true_negatives, 2);
  EXPECT_DOUBLE_EQ(f.accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(f.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(f.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(f.f1, 2.0 / 3);
  // Pairs: positives {2, 0.5, -1} against negatives {0.1, -0.2, 0}: 3 + 3 + 0 = 6 of 9.
  EXPECT_DOUBLE_EQ(f.auc, 6.0 / 9);
  const auto j = eval::binary_figures_json(f, "test");
  EXPECT_DOUBLE_EQ(j.at("test_f1").get<double>(), 2.0 / 3);
  EXPECT_EQ(j.at("test_confusion").at("false_positives").get<int64_t>(), 1);
  // Nothing predicted positive: precision and F1 are 0, not NaN.
  const auto none = eval::binary_figures(-torch::ones({4}, torch::kFloat64), torch::tensor({1, 0, 1, 0}));
  EXPECT_EQ(none.precision, 0.0);
  EXPECT_EQ(none.f1, 0.0);
  EXPECT_DOUBLE_EQ(none.auc, 0.5);  // every score tied
}

TEST(BinaryFigures, AucMatchesThePairCountWithTies) {
  auto gen = at::detail::createCPUGenerator(3);
  // Scores rounded to a coarse grid, so that many are tied.
  const auto s = (torch::randn({60}, gen, torch::kFloat64) * 2).round();
  const auto y = (torch::rand({60}, gen, torch::kFloat64) < 0.4 + 0.1 * s.clamp(-2, 2)).to(torch::kLong);
  EXPECT_NEAR(eval::roc_auc(s, y), auc_by_pairs(s, y), 1e-12);
  EXPECT_NEAR(eval::roc_auc(-s, y), 1 - auc_by_pairs(s, y), 1e-12);
  const auto msg = selfsup::testing::error_of([] { eval::roc_auc(torch::ones({3}), torch::ones({3}, torch::kLong)); });
  EXPECT_NE(msg.find("roc_auc needs both classes, got 3 positives and 0 negatives"), std::string::npos) << msg;
  EXPECT_NE(selfsup::testing::error_of([] { eval::roc_auc(torch::ones({2}), torch::tensor({0, 2})); }).find("0 or 1"),
            std::string::npos);
}

// Best-bin estimation on scores whose prior is known: positives ~ N(2, 1), negatives ~ N(-2, 1),
// the unlabeled set a 30/70 mix. The best bin is nearly free of negatives, so q_U / q_P is within
// 0.03 of the prior; likewise for priors 0.1 and 0.6.
TEST(PriorEstimation, BestBinLandsWithinThreeHundredthsOfAKnownPrior) {
  for (double prior : {0.1, 0.3, 0.6}) {
    const int64_t nu = 10000, n_pos_in_u = static_cast<int64_t>(prior * nu);
    const auto held_out_positives = normal64(2000, 2, 1, 1);
    const auto unlabeled = torch::cat({normal64(n_pos_in_u, 2, 1, 2), normal64(nu - n_pos_in_u, -2, 1, 3)});
    const auto e = eval::bbe_prior(held_out_positives, unlabeled);
    EXPECT_NEAR(e.prior, prior, 0.03) << "prior " << prior << ", threshold " << e.threshold;
    EXPECT_NEAR(e.prior, e.q_unlabeled / e.q_positive, 1e-12);
    EXPECT_GT(e.upper_bound, e.prior);
    // Scores mapped by any increasing function choose the same bin.
    EXPECT_DOUBLE_EQ(eval::bbe_prior(torch::sigmoid(held_out_positives), torch::sigmoid(unlabeled)).prior, e.prior);
  }
}

// Elkan-Noto on the exact labeled-vs-unlabeled posterior of the same mixture: with the labeled
// term at odds r against the unlabeled one, g(x) = r p_P / (r p_P + p_U), and on well separated
// classes c = mean g over held-out positives = r / (r + pi), so r (1 - c) / c recovers pi.
TEST(PriorEstimation, ElkanNotoLandsWithinThreeHundredthsOfAKnownPrior) {
  const auto density = [](const torch::Tensor& x, double mean) { return torch::exp(-0.5 * (x - mean).pow(2)); };
  for (double prior : {0.1, 0.3, 0.6}) {
    for (double r : {1.0, 0.25}) {
      const auto x = normal64(3000, 3, 1, 4);  // held-out labeled positives
      const auto p_pos = density(x, 3), p_unl = prior * density(x, 3) + (1 - prior) * density(x, -3);
      const auto g = r * p_pos / (r * p_pos + p_unl);
      const double c = eval::elkan_noto_c(g);
      EXPECT_NEAR(c, r / (r + prior), 0.01);
      EXPECT_NEAR(eval::elkan_noto_prior(c, r), prior, 0.03) << "prior " << prior << ", r " << r;
    }
  }
  EXPECT_DOUBLE_EQ(eval::elkan_noto_prior(0.5, 1.0), 1.0);
  EXPECT_NE(selfsup::testing::error_of([] { eval::elkan_noto_prior(0.0, 1.0); }).find("c must be in (0, 1]"),
            std::string::npos);
}

TEST(PriorEstimation, BadInputNamesWhatIsWrong) {
  const auto msg = selfsup::testing::error_of([] { eval::bbe_prior(torch::zeros({0}), torch::zeros({5})); });
  EXPECT_NE(msg.find("bbe_prior needs held-out labeled positives and unlabeled images, got 0 and 5"), std::string::npos)
      << msg;
  EXPECT_NE(selfsup::testing::error_of([] { eval::bbe_prior(torch::zeros({2, 2}), torch::zeros({5})); }).find("1-D"),
            std::string::npos);
  // Every positive below every unlabeled score: no bin holds a positive.
  EXPECT_NE(selfsup::testing::error_of([] { eval::bbe_prior(torch::zeros({3}), torch::ones({5})); })
                .find("no held-out labeled positive scores as high as any unlabeled image"),
            std::string::npos);
}
