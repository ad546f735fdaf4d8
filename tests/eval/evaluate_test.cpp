// Evaluation protocols: weighted kNN against a naive loop, accuracy, feature extraction, and a
// linear probe whose model selection never looks at test labels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "selfsup/core/runtime.h"
#include "selfsup/eval/evaluate.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;

namespace {

/// InstDisc's weighted kNN, one query at a time with plain loops (float64).
std::vector<int64_t> naive_knn(const torch::Tensor& train, const torch::Tensor& labels, const torch::Tensor& query,
                               int64_t classes, int64_t k, double t) {
  auto tr = train.to(torch::kFloat64).contiguous(), q = query.to(torch::kFloat64).contiguous();
  const int64_t n = tr.size(0), d = tr.size(1);
  auto a = tr.accessor<double, 2>();
  auto b = q.accessor<double, 2>();
  auto y = labels.accessor<int64_t, 1>();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < q.size(0); ++i) {
    std::vector<double> sim(n);
    double qn = 0;
    for (int64_t c = 0; c < d; ++c) qn += b[i][c] * b[i][c];
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0, an = 0;
      for (int64_t c = 0; c < d; ++c) {
        dot += a[j][c] * b[i][c];
        an += a[j][c] * a[j][c];
      }
      sim[j] = dot / std::sqrt(an * qn);
    }
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t u, int64_t v) { return sim[u] > sim[v]; });
    std::vector<double> votes(classes, 0.0);
    for (int64_t r = 0; r < std::min(k, n); ++r) votes[y[order[r]]] += std::exp(sim[order[r]] / t);
    out.push_back(std::max_element(votes.begin(), votes.end()) - votes.begin());
  }
  return out;
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

TEST(Knn, MatchesNaiveLoop) {
  auto gen = make_generator(1);
  auto train = torch::randn({300, 12}, gen), query = torch::randn({60, 12}, gen);
  auto labels = torch::randint(0, 5, {300}, gen, torch::kLong);
  for (int64_t k : {1, 7, 50, 1000}) {
    for (double t : {0.07, 0.5}) {
      // A small chunk exercises the batching over query rows.
      auto got = eval::knn_predict(train, labels, query, 5, eval::KnnOptions().k(k).temperature(t).chunk(13));
      EXPECT_EQ(to_vector(got), naive_knn(train, labels, query, 5, k, t)) << "k " << k << " T " << t;
    }
  }
  // Scaling a feature vector does not change a cosine kNN.
  auto scaled = eval::knn_predict(train * 3.0, labels, query * 0.1, 5, eval::KnnOptions().k(7));
  EXPECT_TRUE(torch::equal(scaled, eval::knn_predict(train, labels, query, 5, eval::KnnOptions().k(7))));
}

TEST(Knn, WeightsVotesBySimilarity) {
  // Two neighbours of class 1 that are nearly parallel to the query outvote three of class 0 that
  // are nearly orthogonal: only similarity-weighted votes get this right.
  auto train = torch::tensor({1.0, 0.05, 1.0, -0.05, 0.1, 1.0, 0.1, -1.0, -0.1, 1.0}).view({5, 2});
  auto labels = torch::tensor({1, 1, 0, 0, 0}, torch::kLong);
  auto query = torch::tensor({1.0, 0.0}).view({1, 2});
  auto pred = eval::knn_predict(train, labels, query, 2, eval::KnnOptions().k(5).temperature(0.1));
  EXPECT_EQ(pred.item<int64_t>(), 1);
}

TEST(Knn, SeparatedClustersAreAllCorrect) {
  auto gen = make_generator(2);
  const int64_t classes = 4, per = 50, dim = 8;
  auto centers = torch::eye(dim).slice(0, 0, classes) * 10.0;
  auto labels = torch::arange(classes, torch::kLong).repeat_interleave(per);
  auto train = centers.index_select(0, labels) + torch::randn({classes * per, dim}, gen);
  auto test_labels = torch::arange(classes, torch::kLong).repeat(25);
  auto test = centers.index_select(0, test_labels) + torch::randn({classes * 25, dim}, gen);
  auto pred = eval::knn_predict(train, labels, test, classes, eval::KnnOptions().k(20));
  EXPECT_DOUBLE_EQ(eval::accuracy(pred, test_labels), 1.0);
  EXPECT_THROW(eval::knn_predict(train, labels, test, classes, eval::KnnOptions().k(0)), c10::Error);
  EXPECT_THROW(eval::knn_predict(train, labels, test, classes, eval::KnnOptions().temperature(0)), c10::Error);
  EXPECT_THROW(eval::knn_predict(train, labels.slice(0, 1), test, classes), c10::Error);
  EXPECT_THROW(eval::knn_predict(train, labels, test.slice(1, 1), classes), c10::Error);
}

TEST(Accuracy, CountsMatches) {
  auto p = torch::tensor({0, 1, 2, 3}, torch::kLong);
  EXPECT_DOUBLE_EQ(eval::accuracy(p, torch::tensor({0, 1, 0, 3}, torch::kLong)), 0.75);
  EXPECT_DOUBLE_EQ(eval::accuracy(p, torch::tensor({1, 0, 3, 2}, torch::kLong)), 0.0);
  EXPECT_THROW(eval::accuracy(p, torch::tensor({0, 1}, torch::kLong)), c10::Error);
}

TEST(Accuracy, PerClassMatchesALoopAndAveragesToTheTotalOnBalancedData) {
  torch::manual_seed(3);
  const int64_t classes = 5, n = 400;
  auto labels = torch::arange(n, torch::kLong).remainder(classes);  // balanced: 80 per class
  auto pred = torch::where(torch::rand({n}) < 0.7, labels, torch::randint(classes, {n}, torch::kLong));
  auto acc = eval::per_class_accuracy(pred, labels, classes);
  ASSERT_EQ(acc.sizes(), torch::IntArrayRef({classes}));
  for (int64_t c = 0; c < classes; ++c) {
    int64_t total = 0, right = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (labels[i].item<int64_t>() != c) continue;
      ++total;
      right += pred[i].item<int64_t>() == c;
    }
    EXPECT_DOUBLE_EQ(acc[c].item<double>(), static_cast<double>(right) / total) << "class " << c;
  }
  EXPECT_NEAR(acc.mean().item<double>(), eval::accuracy(pred, labels), 1e-12);
  // A class absent from the labels scores 0 rather than NaN; out-of-range labels are refused.
  auto sparse = eval::per_class_accuracy(torch::tensor({0, 1}, torch::kLong), torch::tensor({0, 0}, torch::kLong), 3);
  EXPECT_DOUBLE_EQ(sparse[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(sparse[2].item<double>(), 0.0);
  EXPECT_THROW(eval::per_class_accuracy(pred, labels, 4), c10::Error);
  EXPECT_THROW(eval::per_class_accuracy(pred, labels.slice(0, 1), classes), c10::Error);
}

TEST(Accuracy, ConfusionMatrixMatchesALoopAndItsRowsAreTheClassCounts) {
  torch::manual_seed(4);
  const int64_t classes = 4, n = 300;
  auto labels = torch::randint(classes, {n}, torch::kLong);
  auto pred = torch::where(torch::rand({n}) < 0.6, labels, torch::randint(classes, {n}, torch::kLong));
  auto m = eval::confusion_matrix(pred, labels, classes);
  ASSERT_EQ(m.sizes(), torch::IntArrayRef({classes, classes}));
  std::vector<int64_t> loop(classes * classes, 0);
  for (int64_t i = 0; i < n; ++i) ++loop[labels[i].item<int64_t>() * classes + pred[i].item<int64_t>()];
  for (int64_t r = 0; r < classes; ++r) {
    for (int64_t c = 0; c < classes; ++c) EXPECT_EQ(m[r][c].item<int64_t>(), loop[r * classes + c]) << r << "," << c;
  }
  EXPECT_TRUE(torch::equal(m.sum(1), torch::bincount(labels, {}, classes)));
  EXPECT_TRUE(torch::equal(m.sum(0), torch::bincount(pred, {}, classes)));
  // An out-of-range prediction is refused, not folded into another cell.
  EXPECT_THROW(eval::confusion_matrix(torch::tensor({0, 4}, torch::kLong), torch::tensor({0, 1}, torch::kLong), 4),
               c10::Error);
}

TEST(ExtractFeatures, BatchesNormalisesAndNeedsNoGradient) {
  auto gen = make_generator(3);
  auto images = torch::randint(0, 256, {23, 2, 4, 4}, gen, torch::kUInt8);
  train::Normalization norm{{0.5, 0.25}, {0.2, 0.4}};
  torch::nn::Linear head(32, 3);
  int calls = 0;
  auto encode = [&](const torch::Tensor& x) {
    ++calls;
    return head(x.flatten(1));
  };
  auto f = eval::extract_features(encode, images, norm, torch::kCPU, 5);
  EXPECT_EQ(calls, 5);
  auto x = images.to(torch::kFloat32) / 255.0;
  auto m = torch::tensor({0.5, 0.25}).view({1, 2, 1, 1}), s = torch::tensor({0.2, 0.4}).view({1, 2, 1, 1});
  auto expected = head(((x - m) / s).flatten(1)).detach();
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{23, 3}));
  EXPECT_TRUE(torch::allclose(f, expected, 1e-5, 1e-5));
  EXPECT_FALSE(f.requires_grad());
  EXPECT_THROW(eval::extract_features(encode, images.flatten(1), norm, torch::kCPU), c10::Error);
}

struct Blobs {
  torch::Tensor train_x, train_y, test_x, test_y;
};

/// Gaussian blobs around well separated means in 10 dimensions, plus a constant feature (its
/// standard deviation is zero: standardisation must survive it).
Blobs blobs(int64_t classes, int64_t train_per, int64_t test_per, double spread, uint64_t seed) {
  auto gen = make_generator(seed);
  auto means = torch::randn({classes, 10}, gen) * 4.0;
  auto make = [&](int64_t per, torch::Tensor& x, torch::Tensor& y) {
    y = torch::arange(classes, torch::kLong).repeat(per);
    x = means.index_select(0, y) + spread * torch::randn({classes * per, 10}, gen);
    x = torch::cat({x, torch::ones({x.size(0), 1})}, 1);
  };
  Blobs b;
  make(train_per, b.train_x, b.train_y);
  make(test_per, b.test_x, b.test_y);
  return b;
}

TEST(LinearProbe, SeparableDataIsSolvedAndTheL2ComesFromTheGrid) {
  auto b = blobs(3, 100, 50, 0.5, 4);
  const std::vector<double> grid{1e-4, 1e-2, 1.0};
  auto r = eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 3,
                              eval::LinearProbeOptions().l2_grid(grid).max_iter(100));
  EXPECT_GE(r.test_accuracy, 0.99);
  EXPECT_GE(r.train_accuracy, 0.99);
  EXPECT_GE(r.val_accuracy, 0.99);
  EXPECT_NE(std::find(grid.begin(), grid.end(), r.l2), grid.end()) << r.l2;

  EXPECT_THROW(eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 3, eval::LinearProbeOptions().l2_grid({})),
               c10::Error);
  EXPECT_THROW(eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 3,
                                  eval::LinearProbeOptions().l2_grid({-1.0})),
               c10::Error);
  EXPECT_THROW(eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 3,
                                  eval::LinearProbeOptions().val_fraction(1.0)),
               c10::Error);
  EXPECT_THROW(eval::linear_probe(b.train_x, b.train_y, b.test_x.slice(1, 1), b.test_y, 3), c10::Error);
}

TEST(LinearProbe, ModelSelectionNeverSeesTestLabels) {
  // Overlapping classes so that the strengths differ on validation and the choice is not trivial.
  auto b = blobs(4, 60, 50, 4.0, 5);
  auto o = eval::LinearProbeOptions().l2_grid({1e-4, 1e-1, 3.0}).max_iter(100).seed(9);
  auto r = eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 4, o);
  auto shuffled = b.test_y.index_select(0, torch::randperm(b.test_y.size(0), make_generator(6), torch::kLong));
  auto rs = eval::linear_probe(b.train_x, b.train_y, b.test_x, shuffled, 4, o);
  EXPECT_EQ(r.l2, rs.l2);
  EXPECT_EQ(r.val_accuracy, rs.val_accuracy);
  EXPECT_EQ(r.train_accuracy, rs.train_accuracy);
  // ...while the test score itself does use them.
  EXPECT_GT(r.test_accuracy, rs.test_accuracy + 0.2);
  EXPECT_GT(r.test_accuracy, 0.5);
}

TEST(LinearHead, WeightsOnRawFeaturesGiveTheStandardisedFitsLogitsAndItsValidationScore) {
  // Overlapping classes, so the validation score is not trivially 1 and the grid choice matters.
  auto b = blobs(4, 60, 50, 3.0, 7);
  const auto o = eval::LinearProbeOptions().l2_grid({1e-4, 1e-1, 3.0}).max_iter(100);
  auto head = eval::fit_linear_head(b.train_x, b.train_y, b.test_x, b.test_y, 4, o);
  ASSERT_EQ(head.weight.sizes(), (std::vector<int64_t>{4, 11}));
  ASSERT_EQ(head.bias.sizes(), (std::vector<int64_t>{4}));
  EXPECT_TRUE(head.l2 == 1e-4 || head.l2 == 1e-1 || head.l2 == 3.0) << head.l2;
  // The folded standardisation: the raw-feature logits score exactly what the fit scored.
  auto predicted = torch::addmm(head.bias, b.test_x, head.weight.t()).argmax(1);
  EXPECT_DOUBLE_EQ(eval::accuracy(predicted, b.test_y), head.val_accuracy);
  EXPECT_GT(head.val_accuracy, 0.5);
  // Standardisation makes the fit blind to each feature's offset and scale: a rescaled copy of the
  // data predicts the same classes.
  auto scale = torch::linspace(0.01, 100.0, 11), shift = torch::linspace(-50.0, 50.0, 11);
  auto scaled = eval::fit_linear_head(b.train_x * scale + shift, b.train_y, b.test_x * scale + shift, b.test_y, 4, o);
  auto predicted_scaled = torch::addmm(scaled.bias, b.test_x * scale + shift, scaled.weight.t()).argmax(1);
  EXPECT_GE(predicted_scaled.eq(predicted).to(torch::kFloat64).mean().item<double>(), 0.99);
  EXPECT_EQ(scaled.l2, head.l2);

  EXPECT_THROW(eval::fit_linear_head(b.train_x, b.train_y, b.test_x.slice(1, 1), b.test_y, 4, o), c10::Error);
  EXPECT_THROW(eval::fit_linear_head(b.train_x, b.train_y.slice(0, 1), b.test_x, b.test_y, 4, o), c10::Error);
  // The L2 grid is checked by the fit that both share; the refusal names the function called.
  const auto empty = error_of([&] {
    eval::fit_linear_head(b.train_x, b.train_y, b.test_x, b.test_y, 4, eval::LinearProbeOptions().l2_grid({}));
  });
  EXPECT_NE(empty.find("fit_linear_head: the L2 grid is empty"), std::string::npos) << empty;
  const auto negative = error_of([&] {
    eval::linear_probe(b.train_x, b.train_y, b.test_x, b.test_y, 4, eval::LinearProbeOptions().l2_grid({0.1, -1.0}));
  });
  EXPECT_NE(negative.find("linear_probe: L2 strengths must be >= 0, got -1"), std::string::npos) << negative;
}

}  // namespace
