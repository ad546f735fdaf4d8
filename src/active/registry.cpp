#include "selfsup/active/query.h"
#include "selfsup/active/strategy.h"

namespace selfsup::active {

StrategyRegistry& StrategyRegistry::instance() {
  static StrategyRegistry r;
  return r;
}

void StrategyRegistry::add(StrategyInfo info) {
  for (const auto& i : infos_) TORCH_CHECK(i.name != info.name, "strategy '", info.name, "' registered twice");
  infos_.push_back(std::move(info));
}

std::vector<std::string> StrategyRegistry::list() const {
  std::vector<std::string> names;
  for (const auto& i : infos_) names.push_back(i.name);
  return names;
}

const StrategyInfo& StrategyRegistry::get(const std::string& name) const {
  for (const auto& i : infos_) {
    if (i.name == name) return i;
  }
  std::string known;
  for (const auto& i : infos_) known += (known.empty() ? "" : ", ") + i.name;
  TORCH_CHECK(false, "unknown strategy '", name, "' (known: ", known, ")");
}

Strategy make_strategy(const Config& cfg) {
  const auto name = cfg.require<std::string>("strategy.name");
  const auto& info = StrategyRegistry::instance().get(name);
  return info.factory(methods::MethodConfig(cfg, info.keys, name, "strategy"));
}

Strategy make_strategy(const std::string& name) {
  Config cfg;
  cfg.set("strategy.name", YAML::Node(name));
  return make_strategy(cfg);
}

torch::Tensor query(StrategyImpl& strategy, const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed) {
  TORCH_CHECK(pool.unlabeled.dim() == 1 && pool.labeled.dim() == 1, "query: the pool's index tensors must be 1-D");
  const int64_t p = pool.unlabeled.size(0);
  TORCH_CHECK(batch >= 1 && batch <= p, "query: the batch must be in [1, ", p, "] (the images left in the pool), got ",
              batch);
  TORCH_CHECK(model != nullptr || !strategy.needs_model(),
              "query: this strategy scores with a trained model and cannot choose the first labeled set");
  auto picked = strategy.select(pool, model, batch, seed).to(torch::kLong);
  TORCH_CHECK(picked.dim() == 1 && picked.size(0) == batch, "query: the strategy returned ", picked.sizes(),
              " indices for a batch of ", batch);
  TORCH_CHECK(std::get<0>(at::_unique(picked)).size(0) == batch, "query: the strategy returned an index twice");
  TORCH_CHECK(torch::isin(picked, pool.unlabeled).all().item<bool>(),
              "query: the strategy returned an index outside the pool");
  return picked;
}

}  // namespace selfsup::active
