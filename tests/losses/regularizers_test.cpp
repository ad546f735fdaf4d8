#include "selfsup/losses/regularizers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace L = selfsup::losses;
namespace T = selfsup::testing;
using L::Group;

namespace {

// The group of element (o, i, y, x) of a [O, I, KH, KW] weight, as a key, written from the
// definition of each grouping.
std::tuple<int64_t, int64_t, int64_t, int64_t> group_key(Group g, int64_t o, int64_t i, int64_t y, int64_t x) {
  switch (g) {
    case Group::Kernels: return {o, i, -1, -1};
    case Group::Channels: return {-1, i, -1, -1};
    case Group::Filters:
    case Group::Rows: return {o, -1, -1, -1};
    case Group::Cols: return {-1, i, y, x};
    case Group::Layer: return {-1, -1, -1, -1};
  }
  return {};
}

// Sum of squares of each group by loops over the elements.
std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, double> group_square_sums(const torch::Tensor& w4, Group g) {
  const auto c = w4.contiguous();
  auto a = c.accessor<double, 4>();
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, double> sums;
  for (int64_t o = 0; o < w4.size(0); ++o) {
    for (int64_t i = 0; i < w4.size(1); ++i) {
      for (int64_t y = 0; y < w4.size(2); ++y) {
        for (int64_t x = 0; x < w4.size(3); ++x) sums[group_key(g, o, i, y, x)] += a[o][i][y][x] * a[o][i][y][x];
      }
    }
  }
  return sums;
}

double group_lasso_loops(const torch::Tensor& w4, Group g) {
  double total = 0;
  for (const auto& [key, sq] : group_square_sums(w4, g)) total += std::sqrt(sq);
  return total;
}

torch::Tensor as4d(const torch::Tensor& w) {
  return w.dim() == 2 ? w.view({w.size(0), w.size(1), 1, 1}) : w;
}

}  // namespace

TEST(GroupLasso, NormsAndPenaltyMatchLoopsForEveryGrouping) {
  const auto w = T::randn64({5, 3, 3, 2}, 7);
  for (Group g : L::all_groups()) {
    const auto sums = group_square_sums(w, g);
    const auto norms = F::group_norms(w, g);
    EXPECT_EQ(norms.numel(), static_cast<int64_t>(sums.size())) << L::group_name(g);
    EXPECT_NEAR(T::value(F::group_lasso(w, F::GroupLassoOptions().group(g).strength(0.3))),
                0.3 * group_lasso_loops(w, g), 1e-10)
        << L::group_name(g);
  }
  // Shapes of the group index.
  EXPECT_EQ(F::group_norms(w, Group::Filters).sizes(), (std::vector<int64_t>{5}));
  EXPECT_EQ(F::group_norms(w, Group::Channels).sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(F::group_norms(w, Group::Kernels).sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(F::group_norms(w, Group::Cols).sizes(), (std::vector<int64_t>{3, 3, 2}));
  EXPECT_EQ(F::group_norms(w, Group::Layer).dim(), 0);
  // Element norms by name: filter 2, channel 1, kernel (4, 0).
  const auto f2 = w[2].pow(2).sum().sqrt().item<double>();
  EXPECT_NEAR(F::group_norms(w, Group::Filters)[2].item<double>(), f2, 1e-12);
  EXPECT_NEAR(F::group_norms(w, Group::Channels)[1].item<double>(), w.select(1, 1).pow(2).sum().sqrt().item<double>(),
              1e-12);
  EXPECT_NEAR(F::group_norms(w, Group::Kernels)[4][0].item<double>(), w[4][0].pow(2).sum().sqrt().item<double>(),
              1e-12);
}

TEST(GroupLasso, LinearWeights) {
  const auto w = T::randn64({4, 6}, 3);
  for (Group g : {Group::Channels, Group::Filters, Group::Rows, Group::Cols, Group::Layer}) {
    EXPECT_NEAR(T::value(F::group_lasso(w, F::GroupLassoOptions().group(g))), group_lasso_loops(as4d(w), g), 1e-10)
        << L::group_name(g);
  }
  // Rows of a matrix are its output neurons, columns its input features.
  EXPECT_EQ(F::group_norms(w, Group::Rows).sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(F::group_norms(w, Group::Cols).sizes(), (std::vector<int64_t>{6}));
}

TEST(GroupLasso, AnalyticCase) {
  // Two filters of one 1x2 kernel each: (3, 4) and (0, 0), one input channel.
  const auto w = torch::tensor({3., 4., 0., 0.}, torch::kFloat64).view({2, 1, 1, 2});
  EXPECT_NEAR(T::value(F::group_lasso(w, F::GroupLassoOptions().group(Group::Filters).strength(2))), 10.0, 1e-12);
  // Columns: (3, 0) and (4, 0): norms 3 and 4.
  EXPECT_NEAR(T::value(F::group_lasso(w, F::GroupLassoOptions().group(Group::Cols))), 7.0, 1e-12);
  EXPECT_NEAR(T::value(F::group_lasso(w, F::GroupLassoOptions().group(Group::Layer))), 5.0, 1e-12);
  EXPECT_NEAR(T::value(F::l1_regularizer(w, F::L1Options().strength(0.5))), 3.5, 1e-12);
  EXPECT_NEAR(T::value(F::l2_regularizer(w, F::L2Options().strength(0.5))), 12.5, 1e-12);
  // The gradient of a filter's norm is its unit direction; at the zero filter it is 0, not NaN.
  auto x = w.clone().requires_grad_(true);
  F::group_lasso(x, F::GroupLassoOptions().group(Group::Filters)).backward();
  const auto expected = torch::tensor({0.6, 0.8, 0., 0.}, torch::kFloat64).view({2, 1, 1, 2});
  EXPECT_TRUE(torch::allclose(x.grad(), expected, 0, 1e-12)) << x.grad();
}

TEST(GroupLasso, FiniteDifferenceGradientsForEveryGrouping) {
  const auto w = T::randn64({4, 3, 3, 3}, 11);
  for (Group g : L::all_groups()) {
    const auto r = T::gradcheck(
        [g](const std::vector<torch::Tensor>& in) {
          return F::group_lasso(in[0], F::GroupLassoOptions().group(g).strength(0.7));
        },
        {w.clone().requires_grad_(true)});
    EXPECT_TRUE(r.ok) << L::group_name(g) << " abs " << r.max_abs_error << " rel " << r.max_rel_error;
  }
  const auto lin = T::randn64({5, 4}, 12);
  for (Group g : {Group::Channels, Group::Filters, Group::Rows, Group::Cols, Group::Layer}) {
    const auto r = T::gradcheck(
        [g](const std::vector<torch::Tensor>& in) { return F::group_lasso(in[0], F::GroupLassoOptions().group(g)); },
        {lin.clone().requires_grad_(true)});
    EXPECT_TRUE(r.ok) << "linear " << L::group_name(g) << " abs " << r.max_abs_error;
  }
  for (auto f : {+[](const torch::Tensor& x) { return F::l1_regularizer(x, F::L1Options().strength(0.3)); },
                 +[](const torch::Tensor& x) { return F::l2_regularizer(x, F::L2Options().strength(0.3)); }}) {
    const auto r = T::gradcheck([f](const std::vector<torch::Tensor>& in) { return f(in[0]); },
                                {w.clone().requires_grad_(true)});
    EXPECT_TRUE(r.ok) << "abs " << r.max_abs_error;
  }
}

TEST(GroupLasso, ThresholdZeroesExactlyTheGroupsBelowIt) {
  for (Group g : L::all_groups()) {
    auto w = T::randn64({6, 4, 3, 3}, 21);
    const auto before = F::group_norms(w, g).clone();
    // A threshold between the smallest and largest norms, so both kinds exist.
    const double threshold = before.median().item<double>();
    const int64_t expected_below = (before < threshold).sum().item<int64_t>();
    const int64_t zero = F::threshold_groups_(w, g, threshold);
    EXPECT_EQ(zero, expected_below) << L::group_name(g);
    const auto after = F::group_norms(w, g);
    EXPECT_TRUE(torch::equal(after == 0, before < threshold)) << L::group_name(g);
    // Groups at or above the threshold are untouched, element for element.
    const auto original = T::randn64({6, 4, 3, 3}, 21);
    const auto kept = ~F::groups_below(original, g, threshold);
    EXPECT_TRUE(torch::equal(w.masked_select(kept), original.masked_select(kept))) << L::group_name(g);
    EXPECT_EQ((w.masked_select(~kept) != 0).sum().item<int64_t>(), 0) << L::group_name(g);
  }
  // A threshold of 0 changes nothing.
  auto w = T::randn64({3, 2, 3, 3}, 5);
  const auto copy = w.clone();
  EXPECT_EQ(F::threshold_groups_(w, Group::Filters, 0.0), 0);
  EXPECT_TRUE(torch::equal(w, copy));
}

TEST(GroupLasso, ModulesMatchFunctional) {
  const auto w = T::randn64({4, 3, 3, 3}, 2);
  L::GroupLasso m(F::GroupLassoOptions().group(Group::Channels).strength(0.2));
  EXPECT_NEAR(T::value(m(w)), T::value(F::group_lasso(w, m->options)), 1e-12);
  EXPECT_NEAR(T::value(L::L1Regularizer(F::L1Options().strength(2))(w)), 2 * w.abs().sum().item<double>(), 1e-10);
  EXPECT_NEAR(T::value(L::L2Regularizer(F::L2Options().strength(2))(w)), 2 * w.pow(2).sum().item<double>(), 1e-10);
  std::ostringstream s;
  s << *m;
  EXPECT_EQ(s.str(), "selfsup::losses::GroupLasso(group=channels, strength=0.2)");
}

TEST(GroupLasso, BadInputIsOneClearError) {
  const auto w = T::randn64({4, 3, 3, 3}, 2);
  T::expect_error_mentions([] { L::group_from_name("filter"); },
                           {"unknown group 'filter'", "kernels, channels, filters, rows, cols, layer"});
  T::expect_error_mentions([&] { F::group_lasso(w, F::GroupLassoOptions().strength(-0.1)); },
                           {"group_lasso", "strength", "-0.1"});
  T::expect_error_mentions([&] { F::l1_regularizer(w, F::L1Options().strength(-1)); }, {"l1_regularizer", "strength"});
  T::expect_error_mentions([&] { L::L2Regularizer(F::L2Options().strength(-2)); }, {"L2Regularizer", "strength", "-2"});
  T::expect_error_mentions([&] { F::group_lasso(torch::randn({5})); }, {"group_lasso", "at least 2 dimensions", "[5]"});
  T::expect_error_mentions([&] { F::group_lasso(torch::randn({4, 5}), F::GroupLassoOptions().group(Group::Kernels)); },
                           {"kernels", "3 dimensions", "[4, 5]"});
  T::expect_error_mentions([&] { F::threshold_groups_(w.clone(), Group::Filters, -1); }, {"threshold", "-1"});
  T::expect_error_mentions([&] { F::group_lasso(torch::ones({2, 2}, torch::kLong)); }, {"floating-point", "Long"});
}

TEST(GroupLasso, JointFilterNormsSpanTheConvolutionAndItsBatchNorm) {
  const auto w = T::randn64({4, 3, 3, 3}, 31), g = T::randn64({4}, 32), b = T::randn64({4}, 33);
  const auto norms = F::joint_filter_norms({w, g, b});
  for (int64_t o = 0; o < 4; ++o) {
    auto a = w.accessor<double, 4>();
    double sq = g[o].item<double>() * g[o].item<double>() + b[o].item<double>() * b[o].item<double>();
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t y = 0; y < 3; ++y) {
        for (int64_t x = 0; x < 3; ++x) sq += a[o][i][y][x] * a[o][i][y][x];
      }
    }
    EXPECT_NEAR(norms[o].item<double>(), std::sqrt(sq), 1e-12) << o;
  }
  const auto r = T::gradcheck([](const std::vector<torch::Tensor>& in) { return F::joint_filter_norms(in).sum(); },
                              {w.clone().requires_grad_(true), g.clone().requires_grad_(true),
                               b.clone().requires_grad_(true)});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
  auto w2 = w.clone(), g2 = g.clone(), b2 = b.clone();
  const double threshold = norms.median().item<double>();
  EXPECT_EQ(F::threshold_joint_filters_({w2, g2, b2}, threshold), (norms < threshold).sum().item<int64_t>());
  const auto after = F::joint_filter_norms({w2, g2, b2});
  EXPECT_TRUE(torch::equal(after == 0, norms < threshold));
  EXPECT_TRUE(torch::equal(g2 == 0, norms < threshold));
  T::expect_error_mentions([&] { F::joint_filter_norms({w, T::randn64({5}, 1)}); }, {"tensor 1", "4 rows", "[5]"});
}
