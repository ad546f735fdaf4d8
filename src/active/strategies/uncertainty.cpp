// Uncertainty sampling (Lewis and Gale 1994; Settles 2009): the images whose predicted class
// distribution is least sure, by one of three measures of the round model's probabilities.
#include "selfsup/active/strategy.h"

namespace selfsup::active {
namespace {

class UncertaintyStrategy : public StrategyImpl {
 public:
  explicit UncertaintyStrategy(std::string kind) : kind_(std::move(kind)) {}
  torch::Tensor select(const Pool& pool, RoundModel* model, int64_t batch, uint64_t) override {
    const auto scores = uncertainty(model->probabilities(pool.unlabeled), kind_);
    return pool.unlabeled.index_select(0, top_k(scores, batch));
  }

 private:
  std::string kind_;
};

struct LeastConfidence : UncertaintyStrategy {
  static methods::KeySet keys() { return {}; }
  explicit LeastConfidence(const methods::MethodConfig&) : UncertaintyStrategy("least_confidence") {}
};
struct Margin : UncertaintyStrategy {
  static methods::KeySet keys() { return {}; }
  explicit Margin(const methods::MethodConfig&) : UncertaintyStrategy("margin") {}
};
struct Entropy : UncertaintyStrategy {
  static methods::KeySet keys() { return {}; }
  explicit Entropy(const methods::MethodConfig&) : UncertaintyStrategy("entropy") {}
};

}  // namespace
SELFSUP_REGISTER_STRATEGY(LeastConfidence, "least_confidence", true, "the lowest top-class probability");
SELFSUP_REGISTER_STRATEGY(Margin, "margin", true, "the smallest gap between the two most probable classes");
SELFSUP_REGISTER_STRATEGY(Entropy, "entropy", true, "the highest entropy of the class distribution");
}  // namespace selfsup::active
