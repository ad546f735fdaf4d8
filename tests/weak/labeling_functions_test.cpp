// The image labeling functions against plain loops, their abstain rules, and the YAML that
// declares them.
#include "selfsup/weak/labeling_functions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "support/error_of.h"

using namespace selfsup;

namespace {

torch::Tensor lf_randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, gen, torch::kFloat64);
}

std::vector<double> lf_unit(const torch::Tensor& row) {
  std::vector<double> v(row.size(0));
  double n = 0;
  for (size_t i = 0; i < v.size(); ++i) n += (v[i] = row[i].item<double>()) * v[i];
  for (double& x : v) x /= std::sqrt(n);
  return v;
}

double lf_dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

const std::vector<std::string> kClasses = {"zero", "one", "two"};

}  // namespace

TEST(LabelingFunctions, PrototypeMatchesLoopsAndAbstainsWithinTheMargin) {
  const auto f = lf_randn({40, 6}, 1), s = lf_randn({9, 6}, 2);
  const auto y = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2}, torch::kLong);
  for (double margin : {0.0, 0.1, 0.3}) {
    const auto got = weak::prototype_votes(f, s, y, 3, margin);
    for (int64_t i = 0; i < 40; ++i) {
      std::vector<double> sims;
      for (int64_t c = 0; c < 3; ++c) {
        std::vector<double> mean(6, 0.0);
        for (int64_t j = 0; j < 9; ++j) {
          if (y[j].item<int64_t>() != c) continue;
          const auto u = lf_unit(s[j]);
          for (int d = 0; d < 6; ++d) mean[d] += u[d] / 3;
        }
        sims.push_back(lf_dot(lf_unit(f[i]), lf_unit(torch::tensor(mean, torch::kFloat64))));
      }
      std::vector<double> sorted = sims;
      std::sort(sorted.rbegin(), sorted.rend());
      const int64_t best = std::max_element(sims.begin(), sims.end()) - sims.begin();
      EXPECT_EQ(got[i].item<int64_t>(), sorted[0] - sorted[1] >= margin ? best : -1) << "image " << i << " margin " << margin;
    }
  }
  // A class without seed images is never voted.
  const auto two = weak::prototype_votes(f, s.slice(0, 0, 2), y.slice(0, 0, 2), 3, 0.0);
  EXPECT_TRUE(two.ne(2).all().item<bool>());
}

TEST(LabelingFunctions, KnnMatchesLoopsAndNeedsItsAgreement) {
  const auto f = lf_randn({30, 5}, 3), s = lf_randn({12, 5}, 4);
  const auto y = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, torch::kLong);
  for (double agree : {0.4, 0.6, 1.0}) {
    const auto got = weak::knn_votes(f, s, y, 3, 5, agree);
    for (int64_t i = 0; i < 30; ++i) {
      std::vector<std::pair<double, int64_t>> sim;
      for (int64_t j = 0; j < 12; ++j) sim.push_back({-lf_dot(lf_unit(f[i]), lf_unit(s[j])), j});
      std::stable_sort(sim.begin(), sim.end());
      std::vector<int> votes(3, 0);
      for (int j = 0; j < 5; ++j) ++votes[y[sim[j].second].item<int64_t>()];
      const int64_t best = std::max_element(votes.begin(), votes.end()) - votes.begin();
      EXPECT_EQ(got[i].item<int64_t>(), votes[best] / 5.0 >= agree - 1e-12 ? best : -1) << "image " << i;
    }
  }
  // Every seed image's nearest neighbour is itself.
  EXPECT_TRUE(torch::equal(weak::knn_votes(s, s, y, 3, 1, 1.0), y));
}

TEST(LabelingFunctions, StatisticsMatchLoops) {
  auto gen = at::detail::createCPUGenerator(5);
  const auto img = torch::randint(0, 256, {4, 1, 10, 8}, gen, torch::kLong).to(torch::kUInt8);
  const std::array<double, 4> region{0.2, 0.7, 0.25, 1.0};  // rows 2..6, columns 2..7
  for (const auto& stat : weak::image_statistic_names()) {
    const auto got = weak::image_statistic(img, stat, region);
    for (int64_t n = 0; n < 4; ++n) {
      double sum = 0, ink = 0, diff = 0;
      std::vector<bool> col(6, false), row(5, false);
      for (int r = 2; r < 7; ++r) {
        for (int c = 2; c < 8; ++c) {
          const double v = img[n][0][r][c].item<int64_t>() / 255.0;
          const double m = img[n][0][r][2 + 7 - c].item<int64_t>() / 255.0;
          sum += v;
          diff += std::abs(v - m);
          if (v > 0.5) ink += 1, col[c - 2] = true, row[r - 2] = true;
        }
      }
      const double cells = 30;
      double want = 0;
      if (stat == "mean") want = sum / cells;
      if (stat == "ink") want = ink / cells;
      if (stat == "width") want = std::count(col.begin(), col.end(), true) / 6.0;
      if (stat == "height") want = std::count(row.begin(), row.end(), true) / 5.0;
      if (stat == "symmetry") want = 1 - diff / cells;
      EXPECT_NEAR(got[n].item<double>(), want, 1e-12) << stat << " image " << n;
    }
  }
}

TEST(LabelingFunctions, RulesVoteTheirLabelInsideTheirRangeOnly) {
  auto img = torch::zeros({3, 1, 4, 4}, torch::kUInt8);
  img[1].fill_(255);
  img[2].slice(2, 0, 2).fill_(255);  // the top half inked
  auto fs = weak::parse_labeling_functions(YAML::Load("[{name: dark, type: rule, stat: ink, below: 0.1, label: two},"
                                                      " {name: half, type: rule, stat: ink, above: 0.4, below: 0.6, label: 1}]"),
                                           kClasses);
  const auto v = weak::apply_labeling_functions(fs, img, {}, {}, {}, 3);
  EXPECT_TRUE(torch::equal(v, torch::tensor({{2, -1}, {-1, -1}, {-1, 1}}, torch::kLong)));
}

TEST(LabelingFunctions, BadDeclarationsAreNamed) {
  using selfsup::testing::error_of;
  auto parse = [](const std::string& yaml) { weak::parse_labeling_functions(YAML::Load(yaml), kClasses); };
  EXPECT_NE(error_of([&] { parse("[{name: a, type: lasso}]"); }).find("labeling function 'a': type must be prototype, knn or rule, got 'lasso'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: rule, stat: colour, below: 1, label: one}]"); }).find("stat must be one of"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: rule, stat: ink, below: 1, label: seven}]"); })
                .find("label 'seven' is neither a class name nor a class number below 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: rule, stat: ink, label: one}]"); }).find("needs above, below or both"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: knn, k: 3, margin: 0.1}]"); }).find("'margin' is not a key of a knn function"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: prototype, margin: -1}]"); }).find("margin must be >= 0"), std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: prototype}, {name: a, type: knn}]"); }).find("'a' is named twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[{name: a, type: rule, stat: ink, below: 1, label: one, region: [0.5, 0.2, 0, 1]}]"); })
                .find("region must be [top, bottom, left, right]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse("[]"); }).find("non-empty list"), std::string::npos);
  const auto f = lf_randn({4, 3}, 6);
  EXPECT_NE(error_of([&] { weak::knn_votes(f, f, torch::zeros({4}, torch::kLong), 3, 9, 0.5); }).find("k must be in [1, 4]"),
            std::string::npos);
}
