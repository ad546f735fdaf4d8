#include "selfsup/tune/search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "selfsup/core/runtime.h"
#include "support/error_of.h"

namespace TU = selfsup::tune;
using selfsup::testing::error_of;

TEST(HalvingPlan, EachRungKeepsOneEtathWithEtaTimesTheBudgetAndFitsTheTime) {
  const auto plan = TU::halving_plan(9, 3, 1300, 1);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].trials, 9);
  EXPECT_EQ(plan[1].trials, 3);
  EXPECT_EQ(plan[2].trials, 1);
  EXPECT_NEAR(plan[1].seconds, 3 * plan[0].seconds, 1e-9);
  EXPECT_NEAR(plan[2].seconds, 9 * plan[0].seconds, 1e-9);
  double wall = 0;
  for (const auto& r : plan) wall += static_cast<double>(r.trials) * r.seconds;
  EXPECT_NEAR(wall, 1300, 1e-6);
  // Two at once: a rung's wall time is ceil(n / 2) budgets.
  const auto two = TU::halving_plan(5, 2, 100, 2);  // rungs of 5, 2, 1 trials
  ASSERT_EQ(two.size(), 3u);
  EXPECT_NEAR(3 * two[0].seconds + 1 * two[1].seconds + 1 * two[2].seconds, 100, 1e-9);
  EXPECT_EQ(TU::halving_plan(1, 3, 60, 1).size(), 1u);
  EXPECT_NE(error_of([] { TU::halving_plan(4, 1, 60, 1); }).find("eta must be >= 2, got 1"), std::string::npos);
  EXPECT_NE(error_of([] { TU::halving_plan(4, 2, 0, 1); }).find("--time-limit must be positive"), std::string::npos);
}

TEST(Promote, TheTopScoresGoOnFailedTrialsLastTiesToTheLowerIndex) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(TU::promote({0.5, 0.9, nan, 0.7, 0.9}, 3), (std::vector<int64_t>{1, 4, 3}));
  EXPECT_EQ(TU::promote({nan, 0.1}, 2), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(TU::promote({0.3}, 5), (std::vector<int64_t>{0}));
  // A slow reference: the keep largest, by a full sort of (score desc, index asc).
  auto gen = selfsup::make_generator(1);
  const auto s = torch::rand({40}, gen, torch::kFloat64);
  std::vector<double> scores(s.data_ptr<double>(), s.data_ptr<double>() + 40);
  const auto got = TU::promote(scores, 13);
  for (size_t i = 0; i < got.size(); ++i) {
    int64_t better = 0;
    for (double v : scores) better += v > scores[got[i]];
    EXPECT_EQ(better, static_cast<int64_t>(i));
  }
}

TEST(SearchSpace, DrawsWithinEachKindAndIsSeeded) {
  const auto space = TU::SearchSpace::from_yaml(YAML::Load(R"(
method.name: {choice: [fixmatch, flexmatch, uda]}
train.lr: {loguniform: [0.001, 0.1]}
method.threshold: {uniform: [0.8, 0.98]}
method.mu: {int: [2, 7]}
)"), "space.yaml");
  ASSERT_EQ(space.dims.size(), 4u);
  auto gen = selfsup::make_generator(2);
  std::set<std::string> names;
  std::set<int64_t> mus;
  double lo_lr = 1, hi_lr = 0;
  for (int i = 0; i < 400; ++i) {
    const auto a = space.sample(gen);
    ASSERT_EQ(a.size(), 4u);
    names.insert(a[0].second.as<std::string>());
    const double lr = a[1].second.as<double>();
    EXPECT_GE(lr, 0.001);
    EXPECT_LE(lr, 0.1);
    lo_lr = std::min(lo_lr, lr), hi_lr = std::max(hi_lr, lr);
    EXPECT_GE(a[2].second.as<double>(), 0.8);
    EXPECT_LE(a[2].second.as<double>(), 0.98);
    mus.insert(a[3].second.as<int64_t>());
  }
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(mus, (std::set<int64_t>{2, 3, 4, 5, 6, 7}));
  EXPECT_LT(lo_lr, 0.002);  // log-uniform: the low decade is drawn as often as the high one
  EXPECT_GT(hi_lr, 0.05);
  auto g1 = selfsup::make_generator(9), g2 = selfsup::make_generator(9);
  EXPECT_EQ(TU::to_text(space.sample(g1)[1].second), TU::to_text(space.sample(g2)[1].second));
  EXPECT_NE(error_of([] { TU::SearchSpace::from_yaml(YAML::Load("{train.lr: {normal: [0, 1]}}"), "s.yaml"); })
                .find("s.yaml: space.train.lr: unknown kind 'normal'"),
            std::string::npos);
  EXPECT_NE(error_of([] { TU::SearchSpace::from_yaml(YAML::Load("{train.lr: {loguniform: [0, 1]}}"), "s.yaml"); })
                .find("loguniform needs low > 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { TU::SearchSpace::from_yaml(YAML::Load("{train.lr: {uniform: [2, 1]}}"), "s.yaml"); })
                .find("low <= high"),
            std::string::npos);
}

TEST(CheckMetric, RefusesTheTestSet) {
  EXPECT_NO_THROW(TU::check_metric("val_acc"));
  EXPECT_NO_THROW(TU::check_metric("val.psnr"));
  EXPECT_NE(error_of([] { TU::check_metric("test_acc_ema"); }).find("reads the test set"), std::string::npos);
  EXPECT_NE(error_of([] { TU::check_metric("Test.psnr"); }).find("reads the test set"), std::string::npos);
}
