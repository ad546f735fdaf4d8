// S4L-Exemplar's batch-hard triplet loss: against a plain loop over anchors, an analytic case, its
// invariance to translating every row and to relabelling the groups, float64 finite differences,
// and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "selfsup/losses/triplet.h"
#include "support/error_of.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double triplet_loop(const torch::Tensor& e, const std::vector<int64_t>& g) {
  const auto rows = T::to_rows(e);
  const size_t n = rows.size();
  auto dist = [&](size_t i, size_t j) {
    double s = 0;
    for (size_t d = 0; d < rows[i].size(); ++d) s += (rows[i][d] - rows[j][d]) * (rows[i][d] - rows[j][d]);
    return std::sqrt(std::max(s, 1e-12));
  };
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    double pos = -std::numeric_limits<double>::infinity(), neg = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      if (g[j] == g[i]) pos = std::max(pos, dist(i, j));
      else neg = std::min(neg, dist(i, j));
    }
    total += std::log1p(std::exp(pos - neg));
  }
  return total / static_cast<double>(n);
}

}  // namespace

TEST(BatchHardTriplet, MatchesALoop) {
  const auto e = T::randn64({12, 5}, 3);
  const std::vector<int64_t> g{0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 3, 3};
  EXPECT_NEAR(F::batch_hard_triplet_loss(e, torch::tensor(g)).item<double>(), triplet_loop(e, g), 1e-10);
}

TEST(BatchHardTriplet, AnalyticCase) {
  // Two groups on a line: {0, 1} and {3, 5}. Anchor 0: farthest positive 1, nearest negative 3 ->
  // softplus(1 - 3); anchor 1: 1 - 2; anchor 3: 2 - 2; anchor 5: 2 - 4.
  const auto e = torch::tensor({0.0, 1.0, 3.0, 5.0}, torch::kFloat64).unsqueeze(1);
  const auto g = torch::tensor({0, 0, 1, 1}, torch::kLong);
  auto sp = [](double x) { return std::log1p(std::exp(x)); };
  EXPECT_NEAR(F::batch_hard_triplet_loss(e, g).item<double>(), (sp(-2) + sp(-1) + sp(0) + sp(-2)) / 4, 1e-9);
}

TEST(BatchHardTriplet, InvariantToTranslationAndGroupNames) {
  const auto e = T::randn64({8, 3}, 5);
  const auto g = torch::tensor({0, 0, 1, 1, 2, 2, 3, 3}, torch::kLong);
  const double base = F::batch_hard_triplet_loss(e, g).item<double>();
  EXPECT_NEAR(F::batch_hard_triplet_loss(e + torch::tensor({4.0, -2.0, 7.0}, torch::kFloat64), g).item<double>(), base, 1e-9);
  EXPECT_NEAR(F::batch_hard_triplet_loss(e, (g * 7 + 3)).item<double>(), base, 1e-12);
  // Equal copies get a finite gradient.
  auto same = torch::zeros({4, 2}, torch::kFloat64).requires_grad_(true);
  F::batch_hard_triplet_loss(same, torch::tensor({0, 0, 1, 1}, torch::kLong)).backward();
  EXPECT_TRUE(torch::isfinite(same.grad()).all().item<bool>());
}

TEST(BatchHardTriplet, FiniteDifferences) {
  const auto e = T::randn64({9, 4}, 7).requires_grad_(true);
  const auto g = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2}, torch::kLong);
  const auto r = T::gradcheck([&](const std::vector<torch::Tensor>& in) { return F::batch_hard_triplet_loss(in[0], g); }, {e});
  EXPECT_TRUE(r.ok) << r.max_abs_error << " " << r.max_rel_error;
}

TEST(BatchHardTriplet, Refusals) {
  const auto e = T::randn64({4, 2}, 1);
  EXPECT_NE(T::error_of([&] { F::batch_hard_triplet_loss(e, torch::tensor({0, 0, 1, 2}, torch::kLong)); })
                .find("every group needs two rows"),
            std::string::npos);
  EXPECT_NE(T::error_of([&] { F::batch_hard_triplet_loss(e, torch::zeros({4}, torch::kLong)); }).find("two groups"),
            std::string::npos);
  EXPECT_NE(T::error_of([&] { F::batch_hard_triplet_loss(e, torch::zeros({3}, torch::kLong)); }).find("group ids"),
            std::string::npos);
}
