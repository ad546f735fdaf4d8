#include "selfsup/methods/common.h"

#include <cmath>

#include "selfsup/methods/method.h"

namespace selfsup::methods {

nets::MLPHead make_head(const Config& cfg, const std::string& prefix, int64_t in_dim,
                        const HeadDefaults& d) {
  const std::string p = "method." + prefix;
  const auto hidden = cfg.get<int64_t>(p + "_hidden_dim", d.hidden);
  const auto out = cfg.get<int64_t>(p + "_output_dim", d.out);
  const auto layers = cfg.get<int64_t>(p + "_layers", d.layers);
  TORCH_CHECK(hidden > 0, p, "_hidden_dim must be positive, got ", hidden);
  TORCH_CHECK(out > 0, p, "_output_dim must be positive, got ", out);
  TORCH_CHECK(layers >= 1, p, "_layers must be >= 1, got ", layers);
  return nets::MLPHead(nets::MLPHeadOptions(in_dim, hidden, out)
                           .num_layers(layers)
                           .batch_norm(cfg.get<bool>(p + "_batch_norm", d.batch_norm))
                           .last_batch_norm(cfg.get<bool>(p + "_last_batch_norm", d.last_batch_norm)));
}

BranchImpl::BranchImpl(const Config& cfg, int64_t channels, int64_t image_size, const HeadDefaults& proj) {
  backbone = register_module("backbone", nets::make_backbone(cfg, channels, image_size));
  projector = register_module("projector", make_head(cfg, "proj", backbone->feature_dim(), proj));
}

double cosine_momentum(double base, double final_value, int64_t step, int64_t total_steps) {
  if (total_steps <= 0) return base;
  const double k = std::min<double>(step, total_steps);
  return final_value - (final_value - base) * (std::cos(M_PI * k / total_steps) + 1.0) / 2.0;
}

void momentum_update(torch::nn::Module& target, const torch::nn::Module& online, double m) {
  torch::NoGradGuard no_grad;
  auto tp = target.parameters();
  auto op = online.parameters();
  TORCH_CHECK(tp.size() == op.size(), "momentum_update: target has ", tp.size(),
              " parameters, online has ", op.size());
  for (size_t i = 0; i < tp.size(); ++i) tp[i].mul_(m).add_(op[i].detach(), 1.0 - m);
  auto tb = target.buffers();
  auto ob = online.buffers();
  TORCH_CHECK(tb.size() == ob.size(), "momentum_update: buffer count differs");
  for (size_t i = 0; i < tb.size(); ++i) tb[i].copy_(ob[i]);
}

void init_momentum_target(torch::nn::Module& target, const torch::nn::Module& online) {
  momentum_update(target, online, 0.0);
  for (auto& p : target.parameters()) p.set_requires_grad(false);
}

MomentumSchedule MomentumSchedule::from_config(const Config& cfg, double base_default) {
  MomentumSchedule s;
  s.base = cfg.get<double>("method.base_tau_momentum", base_default);
  s.final_value = cfg.get<double>("method.final_tau_momentum", 1.0);
  TORCH_CHECK(s.base >= 0 && s.base <= 1, "method.base_tau_momentum must be in [0, 1], got ", s.base);
  TORCH_CHECK(s.final_value >= s.base && s.final_value <= 1,
              "method.final_tau_momentum must be in [base_tau_momentum, 1], got ", s.final_value);
  return s;
}

double normalized_std(const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  auto zn = torch::nn::functional::normalize(z.detach().to(torch::kFloat32),
                                             torch::nn::functional::NormalizeFuncOptions().dim(1));
  return zn.std(0).mean().item<double>();
}

Registry& Registry::instance() {
  static Registry r;
  return r;
}

void Registry::add(MethodInfo info) {
  TORCH_CHECK(!methods_.count(info.name), "method '", info.name, "' registered twice");
  methods_.emplace(info.name, std::move(info));
}

const MethodInfo& Registry::get(const std::string& name) const {
  auto it = methods_.find(name);
  if (it == methods_.end()) {
    std::string known;
    for (const auto& kv : methods_) known += (known.empty() ? "" : ", ") + kv.first;
    TORCH_CHECK(false, "unknown method '", name, "' (known: ", known, ")");
  }
  return it->second;
}

std::vector<MethodInfo> Registry::list() const {
  std::vector<MethodInfo> out;
  for (const auto& kv : methods_) out.push_back(kv.second);
  return out;
}

Method make_method(const Config& cfg, const DataSpec& spec) {
  const auto name = cfg.get<std::string>("method.name", "");
  TORCH_CHECK(!name.empty(), "config ", cfg.source(), " has no method.name");
  return Registry::instance().get(name).factory(cfg, spec);
}

OnlinePredictorTarget::OnlinePredictorTarget(torch::nn::Module& owner, const Config& cfg, const DataSpec& spec,
                                             const HeadDefaults& proj, HeadDefaults pred)
    : momentum_(MomentumSchedule::from_config(cfg)), tau_(momentum_.base) {
  online_ = owner.register_module("online", Branch(cfg, spec.channels, spec.image_size, proj));
  target_ = owner.register_module("target", Branch(cfg, spec.channels, spec.image_size, proj));
  pred.out = cfg.get<int64_t>("method.proj_output_dim", proj.out);
  predictor_ = owner.register_module("predictor", make_head(cfg, "pred", pred.out, pred));
  init_momentum_target(*target_, *online_);
}

OnlinePredictorTarget::Views OnlinePredictorTarget::forward(const Batch& b) {
  TORCH_CHECK(b.views.size() == 2, "expected two views, got ", b.views.size());
  Views v;
  auto x = torch::cat({b.views[0], b.views[1]});
  v.z = online_(x);
  v.predicted = predictor_(v.z).chunk(2);
  torch::NoGradGuard no_grad;
  v.target = target_(x).chunk(2);
  return v;
}

void OnlinePredictorTarget::update(int64_t step, int64_t total) {
  tau_ = momentum_.at(step - 1, total);
  momentum_update(*target_, *online_, tau_);
}

}  // namespace selfsup::methods
