// The query strategies' computations against slow, obvious references and analytic cases, and
// every registered strategy's contract: distinct rows of the pool, nothing else.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "selfsup/active/models.h"
#include "selfsup/active/query.h"
#include "selfsup/active/strategy.h"
#include "selfsup/core/runtime.h"
#include "selfsup/run/active.h"

namespace selfsup::active {
namespace {

double dist2(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).pow(2).sum().item<double>(); }

TEST(KCenterGreedy, MatchesBruteForce) {
  torch::manual_seed(3);
  const auto x = torch::randn({40, 5}, torch::kDouble);
  const auto centers = torch::arange(0, 5), candidates = torch::arange(5, 40);
  const auto got = k_center_greedy(x, centers, candidates, 6);
  std::vector<int64_t> chosen(centers.data_ptr<int64_t>(), centers.data_ptr<int64_t>() + 5);
  for (int64_t step = 0; step < 6; ++step) {
    int64_t best = -1;
    double best_d = -1;
    for (int64_t p = 0; p < 35; ++p) {
      const int64_t row = 5 + p;
      double d = 1e300;
      for (const auto c : chosen) d = std::min(d, dist2(x[row], x[c]));
      if (d > best_d) best_d = d, best = p;
    }
    EXPECT_EQ(got[step].item<int64_t>(), best) << "pick " << step;
    chosen.push_back(5 + best);
  }
}

TEST(KCenterGreedy, ColdStartBeginsAtFirstAndNeverRepeats) {
  torch::manual_seed(4);
  const auto x = torch::randn({12, 3});
  const auto got = k_center_greedy(x, torch::empty({0}, torch::kLong), torch::arange(12), 12, 7);
  EXPECT_EQ(got[0].item<int64_t>(), 7);
  EXPECT_EQ(std::get<0>(at::_unique(got)).size(0), 12);
}

TEST(FactoredDistances, EqualExplicitGradientEmbeddings) {
  torch::manual_seed(5);
  const auto ua = torch::randn({7, 4}, torch::kDouble), ha = torch::randn({7, 6}, torch::kDouble);
  const auto ub = torch::randn({5, 4}, torch::kDouble), hb = torch::randn({5, 6}, torch::kDouble);
  const auto ga = torch::einsum("ac,ad->acd", {ua, ha}).reshape({7, 24});
  const auto gb = torch::einsum("bc,bd->bcd", {ub, hb}).reshape({5, 24});
  const auto want = torch::cdist(ga, gb).pow(2);
  EXPECT_TRUE(torch::allclose(factored_sq_distances(ua, ha, ub, hb), want, 1e-9, 1e-9));
}

TEST(KMeansPPFactored, StartsAtTheLargestEmbeddingAndPicksDistinctRows) {
  torch::manual_seed(6);
  auto u = torch::randn({30, 3}), h = torch::randn({30, 4});
  u[17] *= 10;  // by far the largest gradient embedding
  auto gen = make_generator(1);
  const auto got = kmeans_pp_factored(u, h, 30, gen);
  EXPECT_EQ(got[0].item<int64_t>(), 17);
  EXPECT_EQ(std::get<0>(at::_unique(got)).size(0), 30);
}

TEST(KMeansPPFactored, DuplicatesAreNeverDrawnBeforeNewPoints) {
  // Rows 0-4 equal row 0; rows 5 and 6 differ: after the first pick the next two are 5 and 6.
  auto u = torch::ones({7, 2}), h = torch::ones({7, 2});
  h[0] *= 3;
  for (int i = 1; i < 5; ++i) h[i] = h[0];
  h[5] = torch::tensor({-1.0, 2.0});
  h[6] = torch::tensor({2.0, -1.0});
  auto gen = make_generator(2);
  const auto got = kmeans_pp_factored(u, h, 3, gen);
  const std::set<int64_t> next{got[1].item<int64_t>(), got[2].item<int64_t>()};
  EXPECT_LT(got[0].item<int64_t>(), 5);
  EXPECT_EQ(next, (std::set<int64_t>{5, 6}));
}

TEST(Uncertainty, AnalyticValues) {
  const auto p = torch::tensor({{0.5, 0.3, 0.2}, {1.0, 0.0, 0.0}}, torch::kDouble);
  const auto lc = uncertainty(p, "least_confidence"), m = uncertainty(p, "margin"), e = uncertainty(p, "entropy");
  EXPECT_NEAR(lc[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(lc[1].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(m[0].item<double>(), -0.2, 1e-12);
  EXPECT_NEAR(m[1].item<double>(), -1.0, 1e-12);
  EXPECT_NEAR(e[0].item<double>(), -(0.5 * std::log(0.5) + 0.3 * std::log(0.3) + 0.2 * std::log(0.2)), 1e-12);
  EXPECT_NEAR(e[1].item<double>(), 0.0, 1e-9);
  EXPECT_THROW(uncertainty(p, "confusion"), c10::Error);
}

TEST(Bald, KnownDisagreement) {
  // Image 0: every pass sure of class 0 (no information). Image 1: half the passes sure of class
  // 0, half of class 1 (log 2 nats). Image 2: every pass uniform (aleatoric only: 0).
  auto mc = torch::zeros({4, 3, 2}, torch::kDouble);
  mc.select(1, 0).select(1, 0).fill_(1);
  mc.select(1, 1).slice(0, 0, 2).select(1, 0).fill_(1);
  mc.select(1, 1).slice(0, 2, 4).select(1, 1).fill_(1);
  mc.select(1, 2).fill_(0.5);
  const auto s = bald_scores(mc);
  EXPECT_NEAR(s[0].item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(s[1].item<double>(), std::log(2.0), 1e-9);
  EXPECT_NEAR(s[2].item<double>(), 0.0, 1e-9);
}

TEST(McDropout, NoDropoutGivesTheModelsProbabilities) {
  torch::manual_seed(7);
  const auto h = torch::randn({9, 4}), w = torch::randn({3, 4}), b = torch::randn({3});
  const auto mc = mc_dropout_probabilities(h, w, b, 5, 0.0, 1);
  const auto p = torch::softmax(torch::addmm(b, h, w.t()), 1);
  for (int t = 0; t < 5; ++t) EXPECT_TRUE(torch::allclose(mc[t], p, 1e-6, 1e-6));
  const auto a = mc_dropout_probabilities(h, w, b, 5, 0.5, 3), c = mc_dropout_probabilities(h, w, b, 5, 0.5, 3);
  EXPECT_TRUE(a.equal(c)) << "the masks are a function of the seed";
  EXPECT_FALSE(a[0].equal(a[1])) << "each pass draws its own mask";
}

TEST(Typicality, MatchesNaiveMeanDistance) {
  torch::manual_seed(8);
  const auto x = torch::randn({15, 3}, torch::kDouble);
  const auto got = typicality(x, 4);
  for (int64_t i = 0; i < 15; ++i) {
    std::vector<double> d;
    for (int64_t j = 0; j < 15; ++j) {
      if (j != i) d.push_back(std::sqrt(dist2(x[i], x[j])));
    }
    std::sort(d.begin(), d.end());
    const double mean = (d[0] + d[1] + d[2] + d[3]) / 4;
    EXPECT_NEAR(got[i].item<double>(), 1 / mean, 1e-4 / mean) << i;
  }
}

/// Three tight, well-separated blobs of sizes 40, 30 and 20 in 2-D.
torch::Tensor blobs() {
  torch::manual_seed(9);
  return torch::cat({torch::randn({40, 2}) * 0.1 + torch::tensor({0.0, 10.0}),
                     torch::randn({30, 2}) * 0.1 + torch::tensor({10.0, 0.0}),
                     torch::randn({20, 2}) * 0.1 + torch::tensor({-10.0, -10.0})});
}

TEST(KMeans, RecoversSeparatedBlobs) {
  auto gen = make_generator(4);
  const auto r = kmeans(blobs(), 3, 50, gen);
  for (const auto& [s, e] : std::vector<std::pair<int, int>>{{0, 40}, {40, 70}, {70, 90}}) {
    EXPECT_EQ(std::get<0>(at::_unique(r.assign.slice(0, s, e))).size(0), 1) << "blob " << s;
  }
  EXPECT_EQ(std::get<0>(at::_unique(r.assign)).size(0), 3);
}

TEST(TypiClust, ColdStartTakesTheMostTypicalImageOfEachBlob) {
  const auto x = blobs();
  const auto s = make_strategy("typiclust");
  const Pool pool{x, torch::empty({0}, torch::kLong), torch::arange(90)};
  const auto got = query(*s, pool, nullptr, 3, 1);
  // Largest cluster first; in each, the row of highest typicality within its blob.
  const std::vector<std::pair<int, int>> spans{{0, 40}, {40, 70}, {70, 90}};
  for (int b = 0; b < 3; ++b) {
    const auto [lo, hi] = spans[b];
    const auto t = typicality(torch::nn::functional::normalize(x.slice(0, lo, hi), torch::nn::functional::NormalizeFuncOptions().dim(1)), 20);
    EXPECT_EQ(got[b].item<int64_t>(), lo + t.argmax().item<int64_t>()) << "blob " << b;
  }
}

/// A fixed linear model on random features, standing in for a trained round model.
class FakeModel : public RoundModel {
 public:
  explicit FakeModel(torch::Tensor x) : x_(std::move(x)), w_(torch::randn({4, x_.size(1)})), b_(torch::zeros({4})) {}
  int64_t num_classes() const override { return 4; }
  torch::Tensor probabilities(const torch::Tensor& i) override { return torch::softmax(torch::addmm(b_, embedding(i), w_.t()), 1); }
  torch::Tensor embedding(const torch::Tensor& i) override { return x_.index_select(0, i); }
  torch::Tensor mc_probabilities(const torch::Tensor& i, int64_t t, double p, uint64_t seed) override {
    return mc_dropout_probabilities(embedding(i), w_, b_, t, p, seed);
  }

 private:
  torch::Tensor x_, w_, b_;
};

TEST(Strategies, EveryOneReturnsDistinctRowsOfThePoolOnly) {
  torch::manual_seed(10);
  const auto x = torch::randn({120, 6});
  FakeModel model(x);
  const auto labeled = torch::arange(0, 120, 7);  // every 7th row is labeled
  auto mask = torch::ones({120}, torch::kBool).index_fill_(0, labeled, false);
  const Pool pool{x, labeled, mask.nonzero().flatten()};
  for (const auto& name : StrategyRegistry::instance().list()) {
    const auto s = make_strategy(name);
    const auto got = query(*s, pool, &model, 15, 2);
    EXPECT_EQ(got.size(0), 15) << name;
    EXPECT_EQ(std::get<0>(at::_unique(got)).size(0), 15) << name;
    EXPECT_TRUE(torch::isin(got, pool.unlabeled).all().item<bool>()) << name;
    EXPECT_FALSE(torch::isin(got, labeled).any().item<bool>()) << name;
    EXPECT_TRUE(got.equal(query(*s, pool, &model, 15, 2))) << name << ": the same seed must choose the same rows";
    if (!s->needs_model()) {
      EXPECT_EQ(query(*s, pool, nullptr, 15, 2).size(0), 15) << name;
    }
  }
}

TEST(Strategies, UncertaintyPicksTheLeastSureRows) {
  torch::manual_seed(11);
  const auto x = torch::randn({50, 6});
  FakeModel model(x);
  const Pool pool{x, torch::empty({0}, torch::kLong), torch::arange(50)};
  const auto p = model.probabilities(torch::arange(50));
  const auto top = std::get<0>(p.topk(2, 1));
  const auto margins = top.select(1, 0) - top.select(1, 1);
  const auto want = std::get<1>(margins.sort()).slice(0, 0, 5);
  const auto got = query(*make_strategy("margin"), pool, &model, 5, 0);
  EXPECT_TRUE(got.equal(want));
}

TEST(Strategies, BadInputIsOneClearError) {
  const auto x = torch::randn({10, 2});
  const Pool pool{x, torch::empty({0}, torch::kLong), torch::arange(10)};
  const auto s = make_strategy("random");
  try {
    query(*s, pool, nullptr, 11, 0);
    FAIL() << "a batch larger than the pool was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("the batch must be in [1, 10]"), std::string::npos) << e.msg();
  }
  EXPECT_THROW(query(*make_strategy("margin"), pool, nullptr, 2, 0), c10::Error);
  try {
    make_strategy("coreset2");
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("unknown strategy 'coreset2'"), std::string::npos) << e.msg();
  }
  Config cfg;
  cfg.set("strategy.name=bald");
  cfg.set("strategy.pases=3");
  try {
    make_strategy(cfg);
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("strategy.pases"), std::string::npos) << e.msg();
    EXPECT_NE(std::string(e.msg()).find("strategy.passes"), std::string::npos) << e.msg();
  }
  cfg = Config();
  cfg.set("strategy.name=bald");
  cfg.set("strategy.dropout=1.5");
  EXPECT_THROW(make_strategy(cfg), c10::Error);
}

TEST(LinearRoundModel, FitsSeparableFeaturesAndScoresTheTestSet) {
  torch::manual_seed(12);
  const auto centers = torch::randn({3, 8}) * 4;
  const auto y = torch::arange(300) % 3, yt = torch::arange(90) % 3;
  const auto x = centers.index_select(0, y) + torch::randn({300, 8}), xt = centers.index_select(0, yt) + torch::randn({90, 8});
  const auto labeled = torch::arange(0, 30);
  LinearRoundModel m(x, xt, yt, labeled, y.index_select(0, labeled), 3, 1e-3, 200);
  EXPECT_GT(m.test_accuracy(), 0.95);
  const auto p = m.probabilities(torch::arange(300));
  EXPECT_TRUE(torch::allclose(p.sum(1), torch::ones({300}), 1e-5, 1e-5));
  EXPECT_GT(run::curve_area({10, 20}, {0.5, 0.7}), 0.5999);
}

TEST(CurveArea, Analytic) {
  EXPECT_NEAR(run::curve_area({10, 20, 40}, {0.5, 0.7, 0.7}), (10 * 0.6 + 20 * 0.7) / 30, 1e-12);
  EXPECT_NEAR(run::curve_area({10}, {0.4}), 0.4, 1e-12);
  EXPECT_THROW(run::curve_area({10, 20}, {0.4}), c10::Error);
}

}  // namespace
}  // namespace selfsup::active
