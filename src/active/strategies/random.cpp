// Random sampling: the baseline every strategy must beat, and a cold start.
#include "selfsup/active/strategy.h"
#include "selfsup/core/runtime.h"

namespace selfsup::active {
namespace {

class RandomStrategy : public StrategyImpl {
 public:
  static methods::KeySet keys() { return {}; }
  explicit RandomStrategy(const methods::MethodConfig&) {}
  bool needs_model() const override { return false; }
  torch::Tensor select(const Pool& pool, RoundModel*, int64_t batch, uint64_t seed) override {
    auto gen = make_generator(seed);
    const auto order = torch::randperm(pool.unlabeled.size(0), gen, torch::kLong);
    return pool.unlabeled.index_select(0, order.slice(0, 0, batch));
  }
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(RandomStrategy, "random", false, "uniformly at random from the pool");
}  // namespace selfsup::active
