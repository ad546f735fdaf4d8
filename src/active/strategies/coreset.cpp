// Core-set (Sener and Savarese 2018), its k-center greedy form: the batch that covers the pool
// best, each pick the image farthest from every labeled or picked one in the round model's
// representation. Greedy needs no solver, and is within a factor 2 of the optimal cover.
#include "selfsup/active/strategy.h"
#include "selfsup/core/runtime.h"

namespace selfsup::active {
namespace {

class Coreset : public StrategyImpl {
 public:
  static methods::KeySet keys() { return {}; }
  explicit Coreset(const methods::MethodConfig&) {}
  bool needs_model() const override { return false; }
  torch::Tensor select(const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed) override {
    // The model's representation when there is a model; the encoder's features for a cold start.
    const auto all = torch::cat({pool.labeled, pool.unlabeled});
    const auto x = model ? model->embedding(all) : pool.features.index_select(0, all);
    const int64_t l = pool.labeled.size(0);
    auto gen = make_generator(seed);
    const int64_t first = torch::randint(pool.unlabeled.size(0), {1}, gen, torch::kLong).item<int64_t>();
    const auto pos = k_center_greedy(x, torch::arange(l), torch::arange(l, all.size(0)), batch, first);
    return pool.unlabeled.index_select(0, pos);
  }
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(Coreset, "coreset", false, "k-center greedy cover of the model's representation");
}  // namespace selfsup::active
