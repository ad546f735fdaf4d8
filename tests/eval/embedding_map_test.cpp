// The report's 2-D maps (eval/embedding_map.h): PCA against the covariance's eigenvectors, t-SNE's
// affinities against a per-row loop, its gradient against autograd and finite differences of the
// KL divergence it descends, and a map that keeps well-separated clusters apart.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/eval/embedding_map.h"
#include "support/error_of.h"
#include "support/gradcheck.h"

using namespace selfsup;

namespace {

torch::Tensor clusters(int64_t per_cluster, int64_t k, int64_t dims, uint64_t seed, torch::Tensor* labels) {
  torch::manual_seed(seed);
  const auto centres = torch::randn({k, dims}, torch::kFloat64) * 10;
  *labels = torch::arange(k).repeat_interleave(per_cluster);
  return centres.index_select(0, *labels) + torch::randn({k * per_cluster, dims}, torch::kFloat64);
}

}  // namespace

TEST(Pca, VariancesAreTheCovarianceEigenvalues) {
  torch::manual_seed(0);
  const auto x = torch::randn({200, 5}, torch::kFloat64).mm(torch::randn({5, 5}, torch::kFloat64)) + 3;
  const auto z = eval::pca(x, 3);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{200, 3}));
  const auto xc = x - x.mean(0, true);
  const auto eig = std::get<0>(torch::linalg::eigh(xc.t().mm(xc) / 199, "L")).flip(0).narrow(0, 0, 3);
  EXPECT_TRUE(torch::allclose(z.var(0), eig, 1e-9, 1e-9));
  // Components are uncorrelated and centred.
  const auto cov = z.t().mm(z) / 199;
  EXPECT_TRUE(torch::allclose(cov - torch::diag(cov.diag()), torch::zeros_like(cov), 0, 1e-8));
  EXPECT_LT(z.mean(0).abs().max().item<double>(), 1e-9);
}

TEST(Pca, PointsOnALineNeedOneComponentAndTheSignIsFixed) {
  // Skewed positions, so that the coordinate largest in size is a single one (at t = 2).
  const auto t = (torch::linspace(0, 1, 50, torch::kFloat64).square() * 3 - 1).unsqueeze(1);
  const auto dir = torch::tensor({{1.0, -2.0, 2.0}}, torch::kFloat64) / 3;
  const auto z = eval::pca(t.mm(dir), 2);
  const auto expected = (t - t.mean()).squeeze(1);
  // |t - mean| is largest at t = 2, so that coordinate comes out positive.
  EXPECT_TRUE(torch::allclose(z.select(1, 0), expected, 1e-9, 1e-9));
  EXPECT_LT(z.select(1, 1).abs().max().item<double>(), 1e-9);
  EXPECT_TRUE(torch::equal(eval::pca(t.mm(dir), 2), eval::pca(-t.mm(-dir), 2)));
}

TEST(TsneAffinities, EachRowHasThePerplexityAndPIsAJointDistribution) {
  torch::manual_seed(1);
  const auto x = torch::randn({60, 4}, torch::kFloat64);
  const double perplexity = 8;
  const auto p = eval::tsne_affinities(x, perplexity);
  EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-12);
  EXPECT_TRUE(torch::allclose(p, p.t(), 0, 1e-15));
  EXPECT_EQ(p.diag().abs().max().item<double>(), 0.0);

  // Recover each conditional row by a slow loop: from P alone the rows are not separable, so
  // recompute them from distances with each row's precision found by a plain scalar bisection.
  const int64_t n = x.size(0);
  auto conditional = torch::zeros({n, n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> d(n);
    for (int64_t j = 0; j < n; ++j) d[j] = (x[i] - x[j]).square().sum().item<double>();
    double lo = 0, hi = 1e6;
    for (int it = 0; it < 200; ++it) {
      const double beta = (lo + hi) / 2;
      double sum = 0, weighted = 0;
      for (int64_t j = 0; j < n; ++j)
        if (j != i) sum += std::exp(-beta * d[j]), weighted += d[j] * std::exp(-beta * d[j]);
      const double entropy = std::log(sum) + beta * weighted / sum;
      (entropy > std::log(perplexity) ? lo : hi) = beta;
    }
    const double beta = (lo + hi) / 2;
    double sum = 0;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) sum += std::exp(-beta * d[j]);
    for (int64_t j = 0; j < n; ++j)
      if (j != i) conditional[i][j] = std::exp(-beta * d[j]) / sum;
  }
  const auto expected = (conditional + conditional.t()) / (2.0 * n);
  EXPECT_TRUE(torch::allclose(p, expected, 1e-4, 1e-9)) << (p - expected).abs().max();
}

TEST(TsneAffinities, IdenticalPointsGetEqualWeight) {
  // Analytic: N copies of one point make every conditional row uniform, 1 / (N - 1).
  const auto p = eval::tsne_affinities(torch::ones({5, 3}, torch::kFloat64), 2.0);
  const auto expected = (1 - torch::eye(5, torch::kFloat64)) / 20.0;
  EXPECT_TRUE(torch::allclose(p, expected, 0, 1e-12));
}

TEST(TsneGradient, MatchesAutogradOfTheKlDivergenceAndFiniteDifferences) {
  torch::manual_seed(2);
  const auto p = eval::tsne_affinities(torch::randn({20, 3}, torch::kFloat64), 4.0);
  const auto y = torch::randn({20, 2}, torch::kFloat64).requires_grad_();
  eval::tsne_kl(p, y).backward();
  const auto fast = eval::tsne_gradient(p, y.detach());
  EXPECT_TRUE(torch::allclose(fast, y.grad(), 1e-9, 1e-12)) << (fast - y.grad()).abs().max();
  const auto r = selfsup::testing::gradcheck([&](const std::vector<torch::Tensor>& in) { return eval::tsne_kl(p, in[0]); },
                                    {y.detach().clone().requires_grad_()});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
}

TEST(Tsne, SeparatedClustersStaySeparatedAndTheMapIsDeterministic) {
  torch::Tensor labels;
  const auto x = clusters(40, 4, 20, 3, &labels);
  const auto y = eval::tsne(x, eval::TsneOptions().perplexity(10).iterations(300).exaggeration_iterations(100));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{160, 2}));
  // Each point's nearest neighbour on the map belongs to its own cluster.
  auto d = torch::cdist(y, y);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  const auto nearest = d.argmin(1);
  EXPECT_TRUE(torch::equal(labels.index_select(0, nearest), labels));
  // The map beats the KL of its own starting point by far.
  const auto p = eval::tsne_affinities(eval::pca(x, 20), 10);
  EXPECT_LT(eval::tsne_kl(p, y).item<double>(), 0.5 * eval::tsne_kl(p, eval::pca(x, 2) * 1e-4).item<double>());
  EXPECT_TRUE(torch::equal(y, eval::tsne(x, eval::TsneOptions().perplexity(10).iterations(300).exaggeration_iterations(100))));
}

TEST(Tsne, BadInputIsRefusedNamingTheValue) {
  const auto x = torch::randn({10, 3}, torch::kFloat64);
  EXPECT_NE(selfsup::testing::error_of([&] { eval::tsne(x, eval::TsneOptions().perplexity(5)); }).find("perplexity must be in [1, (N - 1) / 3 = 3]"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { eval::tsne(torch::randn({3, 2})); }).find("N >= 4"), std::string::npos);
  auto bad = x.clone();
  bad[2][1] = std::nan("");
  EXPECT_NE(selfsup::testing::error_of([&] { eval::tsne(bad, eval::TsneOptions().perplexity(2)); }).find("NaN"), std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { eval::pca(x, 4); }).find("dims must be in [1, 3], got 4"), std::string::npos);
}
