// BALD (Houlsby et al. 2011) with MC dropout (Gal, Islam and Ghahramani 2017): the images on
// whose label the dropout-perturbed models disagree most, by the mutual information between the
// label and the weights.
#include "selfsup/active/strategy.h"

namespace selfsup::active {
namespace {

class Bald : public StrategyImpl {
 public:
  static methods::KeySet keys() {
    methods::KeySet k;
    k.add("strategy.passes", int64_t{20}, "MC dropout passes per image (T)");
    k.add("strategy.dropout", 0.5, "dropout rate on the last layer's input during the passes");
    return k;
  }
  explicit Bald(const methods::MethodConfig& c)
      : passes_(c.get<int64_t>("strategy.passes")), dropout_(c.get<double>("strategy.dropout")) {
    TORCH_CHECK(passes_ >= 2, "strategy.passes must be at least 2, got ", passes_);
    TORCH_CHECK(dropout_ > 0 && dropout_ < 1, "strategy.dropout must be in (0, 1), got ", dropout_);
  }
  torch::Tensor select(const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed) override {
    const auto mc = model->mc_probabilities(pool.unlabeled, passes_, dropout_, seed);
    return pool.unlabeled.index_select(0, top_k(bald_scores(mc), batch));
  }

 private:
  int64_t passes_;
  double dropout_;
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(Bald, "bald", true, "the largest mutual information under MC dropout (T passes)");
}  // namespace selfsup::active
