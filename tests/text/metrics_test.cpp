// Spearman against a naive implementation (ranks by counting) and known values; retrieval's MRR
// and R@1 against hand-computed ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/text/metrics.h"
#include "support/error_of.h"

namespace text = selfsup::text;

namespace {

/// Ranks by counting: 1 + #smaller + (#equal - 1) / 2.
double naive_spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  auto rank = [&](const std::vector<double>& v, size_t i) {
    double less = 0, equal = 0;
    for (size_t j = 0; j < n; ++j) {
      less += v[j] < v[i];
      equal += v[j] == v[i];
    }
    return 1 + less + (equal - 1) / 2;
  };
  double mx = 0, my = 0;
  std::vector<double> rx(n), ry(n);
  for (size_t i = 0; i < n; ++i) mx += rx[i] = rank(x, i), my += ry[i] = rank(y, i);
  mx /= n, my /= n;
  double a = 0, b = 0, c = 0;
  for (size_t i = 0; i < n; ++i) a += (rx[i] - mx) * (ry[i] - my), b += (rx[i] - mx) * (rx[i] - mx), c += (ry[i] - my) * (ry[i] - my);
  return a / std::sqrt(b * c);
}

}  // namespace

TEST(Spearman, MatchesANaiveVersionAndKnownValues) {
  EXPECT_EQ(text::ranks({10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  EXPECT_NEAR(text::spearman({1, 2, 3, 4}, {10, 20, 30, 1000}), 1.0, 1e-12);  // monotone, not linear
  EXPECT_NEAR(text::spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // No ties: 1 - 6 sum d^2 / (n (n^2 - 1)); d = (0, -1, 1, 0, 0) -> 1 - 12 / 120.
  EXPECT_NEAR(text::spearman({1, 2, 3, 4, 5}, {1, 3, 2, 4, 5}), 0.9, 1e-12);
  const std::vector<double> x{0.3, 0.1, 0.1, 0.9, 0.5, 0.5, 0.5, 0.2}, y{1, 2, 2, 8, 3, 7, 7, 0};
  EXPECT_NEAR(text::spearman(x, y), naive_spearman(x, y), 1e-12);
  using selfsup::testing::error_of;
  EXPECT_NE(error_of([] { text::spearman({1, 1, 1}, {1, 2, 3}); }).find("constant"), std::string::npos);
  EXPECT_NE(error_of([] { text::spearman({1, 2}, {1}); }).find("one length"), std::string::npos);
}

TEST(Retrieval, MrrAndRecallAtOne) {
  // Query 0: gold 2 scored highest (rank 1); query 1: gold 0 third (rank 3); query 2: gold 1 tied
  // with the best (rank 1).
  const auto s = torch::tensor({{0.1, 0.2, 0.9}, {0.5, 0.7, 0.6}, {0.8, 0.8, 0.1}});
  const auto r = text::retrieval(s, torch::tensor({2, 0, 1}, torch::kLong));
  EXPECT_NEAR(r.mrr, (1 + 1.0 / 3 + 1) / 3, 1e-12);
  EXPECT_NEAR(r.recall_at_1, 2.0 / 3, 1e-12);
  EXPECT_NE(selfsup::testing::error_of([&] { text::retrieval(s, torch::tensor({3, 0, 1}, torch::kLong)); })
                .find("gold indices must be in [0, 3)"),
            std::string::npos);
}
