#include "selfsup/methods/common.h"

#include <algorithm>
#include <cmath>

#include "selfsup/methods/method.h"

namespace selfsup::methods {

KeySet head_keys(const std::string& prefix, const HeadDefaults& d, bool output_dim) {
  const std::string p = "method." + prefix;
  KeySet k;
  k.add(p + "_hidden_dim", d.hidden, "width of the hidden layers (0: the input's width)");
  if (output_dim) k.add(p + "_output_dim", d.out, "output width");
  k.add(p + "_layers", d.layers, "Linear layers (1 = a single Linear)")
      .add(p + "_batch_norm", d.batch_norm, "BatchNorm after each hidden Linear")
      .add(p + "_last_batch_norm", d.last_batch_norm, "BatchNorm without affine on the output");
  return k;
}

nets::MLPHead make_head(const MethodConfig& cfg, const std::string& prefix, int64_t in_dim) {
  const std::string p = "method." + prefix;
  const auto hidden_key = cfg.get<int64_t>(p + "_hidden_dim");
  const auto out = cfg.declares(p + "_output_dim") ? cfg.get<int64_t>(p + "_output_dim") : in_dim;
  const auto layers = cfg.get<int64_t>(p + "_layers");
  TORCH_CHECK(hidden_key >= 0, p, "_hidden_dim must be >= 0 (0: the input's width), got ", hidden_key);
  const int64_t hidden = hidden_key == 0 ? in_dim : hidden_key;
  TORCH_CHECK(out > 0, p, "_output_dim must be positive, got ", out);
  TORCH_CHECK(layers >= 1, p, "_layers must be >= 1, got ", layers);
  return nets::MLPHead(nets::MLPHeadOptions(in_dim, hidden, out)
                           .num_layers(layers)
                           .batch_norm(cfg.get<bool>(p + "_batch_norm"))
                           .last_batch_norm(cfg.get<bool>(p + "_last_batch_norm")));
}

BranchImpl::BranchImpl(const MethodConfig& cfg, int64_t channels, int64_t image_size) {
  backbone = register_module("backbone", nets::make_backbone(cfg.config(), channels, image_size));
  projector = register_module("projector", make_head(cfg, "proj", backbone->feature_dim()));
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

KeySet MomentumSchedule::keys(double base_default) {
  KeySet k;
  k.add("method.base_tau_momentum", base_default, "momentum of the target network at the first step")
      .add("method.final_tau_momentum", 1.0, "momentum at the last step (cosine schedule between)");
  return k;
}

MomentumSchedule MomentumSchedule::from_config(const MethodConfig& cfg) {
  MomentumSchedule s;
  s.base = cfg.get<double>("method.base_tau_momentum");
  s.final_value = cfg.get<double>("method.final_tau_momentum");
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

const torch::Tensor& Batch::lead() const {
  TORCH_CHECK(!views.empty() || !token_ids.empty(), "a batch without views or token ids");
  return views.empty() ? token_ids.front() : views.front();
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kSelfSupervised: return "self-supervised";
    case Kind::kSemiSupervised: return "semi-supervised";
    case Kind::kSupervised: return "supervised";
    case Kind::kPositiveUnlabeled: return "positive-unlabeled";
    case Kind::kDenoising: return "denoising";
    case Kind::kTextEmbedding: return "text embedding";
  }
  return "?";
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

std::string Registry::names(const std::vector<Kind>& kinds) const {
  std::string out;
  for (const auto& kv : methods_) {
    if (std::find(kinds.begin(), kinds.end(), kv.second.kind) != kinds.end()) {
      out += (out.empty() ? "" : ", ") + kv.first;
    }
  }
  return out;
}

Method make_method(const Config& cfg, const DataSpec& spec, const std::vector<Kind>& kinds) {
  const auto name = cfg.get<std::string>("method.name", "");
  TORCH_CHECK(!name.empty(), "config ", cfg.source(), " has no method.name");
  const auto& info = Registry::instance().get(name);
  const auto& registry = Registry::instance();
  TORCH_CHECK(kinds.empty() || std::find(kinds.begin(), kinds.end(), info.kind) != kinds.end(), "method '", name, "' is ",
              kind_name(info.kind), "; this command trains ", registry.names(kinds));
  return info.factory(MethodConfig(cfg, info.keys, name), spec);
}

KeySet OnlinePredictorTarget::keys(const HeadDefaults& proj, const HeadDefaults& pred, double base_tau) {
  KeySet k = head_keys("proj", proj);
  // The predictor maps back to the projection's width: it has no output size of its own.
  k.add(head_keys("pred", pred, /*output_dim=*/false)).add(MomentumSchedule::keys(base_tau));
  return k;
}

OnlinePredictorTarget::OnlinePredictorTarget(torch::nn::Module& owner, const MethodConfig& cfg, const DataSpec& spec)
    : momentum_(MomentumSchedule::from_config(cfg)), tau_(momentum_.base) {
  online_ = owner.register_module("online", Branch(cfg, spec.channels, spec.image_size));
  target_ = owner.register_module("target", Branch(cfg, spec.channels, spec.image_size));
  predictor_ = owner.register_module("predictor", make_head(cfg, "pred", online_->projector->options.out_dim()));
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
