// Label propagation: the kNN graph against a plain loop, the iteration against a dense reference
// and against its closed-form fixed point, two separated clusters from one label each, node-order
// equivariance, and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "selfsup/core/runtime.h"
#include "selfsup/eval/propagate.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;

namespace {

/// The graph's W as a dense float64 matrix, built with plain loops from cosine similarities.
torch::Tensor naive_dense_w(const torch::Tensor& x, int64_t k, double gamma) {
  auto f = x.to(torch::kFloat64).contiguous();
  const int64_t n = f.size(0), d = f.size(1);
  auto a = f.accessor<double, 2>();
  auto w = torch::zeros({n, n}, torch::kFloat64);
  auto wa = w.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> sim(n);
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0, ni = 0, nj = 0;
      for (int64_t c = 0; c < d; ++c) {
        dot += a[i][c] * a[j][c];
        ni += a[i][c] * a[i][c];
        nj += a[j][c] * a[j][c];
      }
      sim[j] = dot / std::sqrt(ni * nj);
    }
    std::vector<int64_t> order;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) order.push_back(j);
    std::sort(order.begin(), order.end(), [&](int64_t u, int64_t v) { return sim[u] > sim[v]; });
    for (int64_t r = 0; r < k; ++r) wa[i][order[r]] = std::pow(std::max(0.0, sim[order[r]]), gamma);
  }
  return w;
}

/// Z <- alpha S Z + (1 - alpha) Y with the dense S = D^-1/2 (W + W^T) D^-1/2, then class mass
/// normalisation; `iterations` < 0 solves for the fixed point instead.
torch::Tensor dense_propagation(const torch::Tensor& w, const torch::Tensor& y, double alpha, int64_t iterations) {
  auto sym = w + w.t();
  auto dinv = sym.sum(1).rsqrt();
  auto s = dinv.unsqueeze(1) * sym * dinv.unsqueeze(0);
  torch::Tensor z;
  if (iterations < 0) {
    auto eye = torch::eye(w.size(0), torch::kFloat64);
    z = (1 - alpha) * torch::linalg_solve(eye - alpha * s, y);
  } else {
    z = y.clone();
    for (int64_t i = 0; i < iterations; ++i) z = alpha * torch::mm(s, z) + (1 - alpha) * y;
  }
  return z / z.sum(0, true);
}

torch::Tensor one_hot_seeds(int64_t n, int64_t classes, const torch::Tensor& idx, const torch::Tensor& lab) {
  auto y = torch::zeros({n, classes}, torch::kFloat64);
  y.index_put_({idx, lab}, 1.0);
  return y;
}

TEST(KnnGraph, MatchesANaiveLoopAndNeverLinksANodeToItself) {
  auto x = torch::randn({40, 6}, make_generator(1));
  auto g = eval::knn_graph(x, eval::KnnGraphOptions().k(5).gamma(2.0).chunk(7));  // chunks of 7 rows
  ASSERT_EQ(g.index.sizes(), (std::vector<int64_t>{40, 5}));
  auto dense = torch::zeros({40, 40}, torch::kFloat64);
  dense.index_put_({torch::arange(40).unsqueeze(1).expand({40, 5}), g.index}, g.weight.to(torch::kFloat64));
  EXPECT_TRUE(torch::allclose(dense, naive_dense_w(x, 5, 2.0), 1e-5, 1e-6));
  EXPECT_FALSE(g.index.eq(torch::arange(40).unsqueeze(1)).any().item<bool>());
  // A duplicate row is the nearest neighbour of its twin, not the row itself.
  auto twins = torch::cat({x.slice(0, 0, 1), x});
  EXPECT_EQ(eval::knn_graph(twins, eval::KnnGraphOptions().k(1)).index[0][0].item<int64_t>(), 1);
}

TEST(LabelPropagation, MatchesADenseReferenceAndConvergesToTheClosedForm) {
  auto x = torch::randn({50, 4}, make_generator(2)) + 0.5;  // mostly positive similarities
  auto idx = torch::tensor({0, 7, 19, 33}, torch::kLong);
  auto lab = torch::tensor({0, 1, 2, 1}, torch::kLong);
  const auto y = one_hot_seeds(50, 3, idx, lab);
  const auto w = naive_dense_w(x, 6, 3.0);
  const auto graph = eval::KnnGraphOptions().k(6);
  auto o = eval::PropagateOptions().alpha(0.9).iterations(15);
  auto z = eval::label_propagation(x, idx, lab, 3, graph, o);
  EXPECT_TRUE(torch::allclose(z.to(torch::kFloat64), dense_propagation(w, y, 0.9, 15), 1e-4, 1e-6));
  // alpha 0.9 contracts by 0.9 a step: 300 steps sit on (1 - alpha)(I - alpha S)^-1 Y.
  auto zinf = eval::label_propagation(x, idx, lab, 3, graph, o.iterations(300));
  EXPECT_TRUE(torch::allclose(zinf.to(torch::kFloat64), dense_propagation(w, y, 0.9, -1), 1e-4, 1e-6));
  // Class mass normalisation: every column sums to one.
  EXPECT_TRUE(torch::allclose(zinf.sum(0), torch::ones({3}), 1e-5, 1e-5));
}

TEST(LabelPropagation, OneLabelPerClusterLabelsEveryPointOfIt) {
  // Three tight clusters along orthogonal directions: cosine similarity separates them exactly.
  auto gen = make_generator(3);
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < 3; ++c) {
    auto centre = torch::zeros({1, 3});
    centre[0][c] = 1.0;
    parts.push_back(centre + 0.05 * torch::randn({30, 3}, gen));
  }
  auto x = torch::cat(parts);
  auto truth = torch::arange(3).repeat_interleave(30);
  auto idx = torch::tensor({4, 35, 77}, torch::kLong);
  auto z = eval::label_propagation(x, idx, truth.index_select(0, idx), 3);
  EXPECT_TRUE(z.argmax(1).eq(truth).all().item<bool>());
  // Relabelling the nodes relabels the answer and changes nothing else.
  auto perm = torch::randperm(90, gen, torch::kLong);
  auto inverse = torch::argsort(perm);
  auto zp = eval::label_propagation(x.index_select(0, perm), inverse.index_select(0, idx), truth.index_select(0, idx), 3);
  EXPECT_TRUE(torch::allclose(zp.index_select(0, inverse), z, 1e-5, 1e-7));
}

TEST(LabelPropagation, RefusalsNameTheArgument) {
  auto x = torch::randn({12, 3}, make_generator(4));  // the default k = 10 fits
  auto idx = torch::tensor({0, 1}, torch::kLong);
  auto lab = torch::tensor({0, 1}, torch::kLong);
  auto msg = [&](const eval::KnnGraphOptions& g, const eval::PropagateOptions& o) {
    return error_of([&] { eval::label_propagation(x, idx, lab, 2, g, o); });
  };
  EXPECT_NE(msg({}, eval::PropagateOptions().alpha(1.0)).find("alpha must be in (0, 1), got 1"), std::string::npos);
  EXPECT_NE(msg({}, eval::PropagateOptions().iterations(0)).find("iterations must be positive, got 0"), std::string::npos);
  EXPECT_NE(msg(eval::KnnGraphOptions().k(12), {}).find("k must be in [1, N-1] = [1, 11], got 12"), std::string::npos);
  EXPECT_NE(msg(eval::KnnGraphOptions().gamma(0), {}).find("gamma must be positive, got 0"), std::string::npos);
  EXPECT_NE(error_of([&] { eval::label_propagation(x, idx, torch::tensor({0, 2}, torch::kLong), 2); })
                .find("seed labels must lie in [0, 2)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { eval::label_propagation(x, torch::tensor({0, 12}, torch::kLong), lab, 2); })
                .find("seed indices must lie in [0, 12)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { eval::label_propagation(x.flatten(), idx, lab, 2); }).find("features must be [N,D]"),
            std::string::npos);
}

}  // namespace
