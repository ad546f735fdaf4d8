// BADGE (Ash et al. 2020): uncertain and diverse at once. Each image's gradient embedding is the
// gradient of the cross-entropy at its predicted label with respect to the last layer,
// (p - onehot(argmax p)) (x) h; k-means++ seeding on those picks the batch. The embeddings stay
// factored (C + D numbers an image instead of C x D), distances come from inner products.
#include "selfsup/active/strategy.h"
#include "selfsup/core/runtime.h"

namespace selfsup::active {
namespace {

class Badge : public StrategyImpl {
 public:
  static methods::KeySet keys() { return {}; }
  explicit Badge(const methods::MethodConfig&) {}
  torch::Tensor select(const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed) override {
    const auto p = model->probabilities(pool.unlabeled);
    const auto u = p - torch::one_hot(p.argmax(1), p.size(1)).to(p.dtype());
    const auto h = model->embedding(pool.unlabeled);
    auto gen = make_generator(seed);
    return pool.unlabeled.index_select(0, kmeans_pp_factored(u, h, batch, gen));
  }
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(Badge, "badge", true, "k-means++ seeding on gradient embeddings (factored)");
}  // namespace selfsup::active
