// TypiClust (Hacohen, Dekel and Weinshall 2022), for the first rounds of a small budget: cluster
// the encoder's features into (labeled + batch) clusters and label the most typical image of
// each largest cluster that holds no label yet. It needs no model, so it also picks the first set.
#include <algorithm>

#include "selfsup/active/strategy.h"
#include "selfsup/core/runtime.h"

namespace selfsup::active {
namespace {

class TypiClust : public StrategyImpl {
 public:
  static methods::KeySet keys() {
    methods::KeySet k;
    k.add("strategy.neighbors", int64_t{20}, "neighbours in the typicality (inverse mean distance)");
    k.add("strategy.max_clusters", int64_t{500}, "at most this many k-means clusters");
    k.add("strategy.min_cluster_size", int64_t{5}, "smaller clusters are skipped while larger ones remain");
    k.add("strategy.kmeans_iterations", int64_t{30}, "Lloyd iterations at most");
    return k;
  }
  explicit TypiClust(const methods::MethodConfig& c)
      : neighbors_(c.get<int64_t>("strategy.neighbors")),
        max_clusters_(c.get<int64_t>("strategy.max_clusters")),
        min_size_(c.get<int64_t>("strategy.min_cluster_size")),
        iterations_(c.get<int64_t>("strategy.kmeans_iterations")) {
    TORCH_CHECK(neighbors_ >= 1, "strategy.neighbors must be positive, got ", neighbors_);
    TORCH_CHECK(max_clusters_ >= 1, "strategy.max_clusters must be positive, got ", max_clusters_);
    TORCH_CHECK(min_size_ >= 1, "strategy.min_cluster_size must be positive, got ", min_size_);
    TORCH_CHECK(iterations_ >= 1, "strategy.kmeans_iterations must be positive, got ", iterations_);
  }
  bool needs_model() const override { return false; }

  torch::Tensor select(const Pool& pool, RoundModel*, int64_t batch, uint64_t seed) override {
    // Cosine geometry: self-supervised features are trained on the unit sphere.
    const auto x = torch::nn::functional::normalize(pool.features.to(torch::kFloat),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
    const int64_t n = x.size(0);
    const int64_t k = std::min({pool.labeled.size(0) + batch, max_clusters_, n});
    auto gen = make_generator(seed);
    const auto assign = kmeans(x, k, iterations_, gen).assign;
    auto size = torch::bincount(assign, {}, k).to(torch::kLong);
    auto labeled = torch::bincount(assign.index_select(0, pool.labeled), {}, k).to(torch::kLong);
    auto is_unlabeled = torch::zeros({n}, torch::kBool).index_fill_(0, pool.unlabeled, true);
    auto left = torch::bincount(assign.index_select(0, pool.unlabeled), {}, k).to(torch::kLong);
    std::vector<int64_t> picks;
    for (int64_t b = 0; b < batch; ++b) {
      // The cluster with the fewest labels, the largest among those; small ones only when no
      // large one has an image left.
      const auto usable = left > 0;
      const auto large = usable.logical_and(size >= min_size_);
      const auto candidates = large.any().item<bool>() ? large : usable;
      const auto key = torch::where(candidates, labeled * (n + 1) - size, torch::full_like(size, INT64_MAX));
      const int64_t c = key.argmin().item<int64_t>();
      const auto rows = (assign == c).nonzero().flatten();
      const auto typ = typicality(x.index_select(0, rows), neighbors_);
      const auto free = is_unlabeled.index_select(0, rows);
      const int64_t best = rows[torch::where(free, typ, torch::full_like(typ, -1.0)).argmax()].item<int64_t>();
      picks.push_back(best);
      is_unlabeled[best] = false;
      labeled[c] += 1;
      left[c] -= 1;
    }
    return torch::tensor(picks, torch::kLong);
  }

 private:
  int64_t neighbors_, max_clusters_, min_size_, iterations_;
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(TypiClust, "typiclust", false,
                          "the most typical image of the largest clusters without a label (cold start)");
}  // namespace selfsup::active
