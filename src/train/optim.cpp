#include "selfsup/train/optim.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace selfsup::train {

OptimizerOptions OptimizerOptions::from_config(const Config& cfg) {
  OptimizerOptions o;
  o.name(cfg.get<std::string>("train.optimizer", "sgd"));
  o.lr(cfg.get<double>("train.lr", o.lr()));
  o.weight_decay(cfg.get<double>("train.weight_decay", o.weight_decay()));
  o.momentum(cfg.get<double>("train.momentum", o.momentum()));
  o.nesterov(cfg.get<bool>("train.nesterov", o.nesterov()));
  auto betas = cfg.get<std::vector<double>>("train.betas", {o.beta1(), o.beta2()});
  TORCH_CHECK(betas.size() == 2, "train.betas needs two values, got ", betas.size());
  o.beta1(betas[0]).beta2(betas[1]);
  o.eta(cfg.get<double>("train.lars_eta", o.eta()));
  o.exclude_bias_and_norm(cfg.get<bool>("train.exclude_bias_and_norm", o.exclude_bias_and_norm()));
  o.clip_lr(cfg.get<bool>("train.lars_clip_lr", o.clip_lr()));
  return o;
}

Optimizer::Optimizer(const std::vector<torch::Tensor>& params, const OptimizerOptions& o, const LrScales& lr_scales)
    : options_(o) {
  TORCH_CHECK(o.lr() > 0, "train.lr must be positive, got ", o.lr());
  TORCH_CHECK(o.weight_decay() >= 0, "train.weight_decay must be >= 0, got ", o.weight_decay());
  TORCH_CHECK(o.momentum() >= 0 && o.momentum() < 1, "train.momentum must be in [0, 1), got ", o.momentum());
  std::map<const void*, double> scale_of;
  for (const auto& [p, scale] : lr_scales) {
    TORCH_CHECK(std::isfinite(scale) && scale > 0, "a learning-rate scale must be positive, got ", scale);
    scale_of[p.unsafeGetTensorImpl()] = scale;
  }
  // Groups: decayed and plain at scale 1, then decayed and plain at each other scale in the order
  // the parameters first use it (without scales: the two groups alone, as checkpoints expect).
  scales_ = {1.0};
  std::vector<std::vector<torch::Tensor>> members(2);
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    const auto it = scale_of.find(p.unsafeGetTensorImpl());
    const double scale = it == scale_of.end() ? 1.0 : it->second;
    size_t index = std::find(scales_.begin(), scales_.end(), scale) - scales_.begin();
    if (index == scales_.size()) {
      scales_.push_back(scale);
      members.resize(2 * scales_.size());
    }
    members[2 * index + (p.dim() <= 1 && o.exclude_bias_and_norm() ? 1 : 0)].push_back(p);
  }
  TORCH_CHECK(std::any_of(members.begin(), members.end(), [](const auto& m) { return !m.empty(); }),
              "the model has no trainable parameters");
  std::vector<double> group_scales;
  for (const double scale : scales_) group_scales.insert(group_scales.end(), {scale, scale});
  scales_ = group_scales;
  const bool lars = o.name() == "lars";
  if (lars) {
    for (size_t g = 0; g < members.size(); g += 2) adapted_.insert(adapted_.end(), members[g].begin(), members[g].end());
  }
  auto groups_of = [&](const auto& decay_opts, const auto& plain_opts) {
    using Options = std::decay_t<decltype(decay_opts)>;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (size_t g = 0; g < members.size(); ++g) {
      auto opts = std::make_unique<Options>(g % 2 == 0 ? decay_opts : plain_opts);
      opts->lr(o.lr() * scales_[g]);
      groups.emplace_back(members[g], std::move(opts));
    }
    return groups;
  };
  if (o.name() == "sgd" || lars) {
    // LARS applies weight decay itself, inside the trust ratio.
    auto decay_opts = torch::optim::SGDOptions(o.lr()).momentum(o.momentum()).nesterov(o.nesterov())
                          .weight_decay(lars ? 0.0 : o.weight_decay());
    auto plain_opts = torch::optim::SGDOptions(o.lr()).momentum(o.momentum()).nesterov(o.nesterov()).weight_decay(0.0);
    impl_ = std::make_unique<torch::optim::SGD>(groups_of(decay_opts, plain_opts), decay_opts);
  } else if (o.name() == "adamw") {
    auto base = torch::optim::AdamWOptions(o.lr()).betas({o.beta1(), o.beta2()}).weight_decay(o.weight_decay());
    auto plain_opts = base;
    plain_opts.weight_decay(0.0);
    impl_ = std::make_unique<torch::optim::AdamW>(groups_of(base, plain_opts), base);
  } else {
    TORCH_CHECK(false, "unknown train.optimizer '", o.name(), "' (expected sgd, adamw or lars)");
  }
}

void Optimizer::set_lr_factor(double factor) {
  factor_ = factor;
  auto& groups = impl_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(options_.lr() * factor * scales_[g]);
}

double Optimizer::lr() const { return options_.lr() * factor_; }

void Optimizer::zero_grad() {
  for (auto& g : impl_->param_groups())
    for (auto& p : g.params())
      if (p.grad().defined()) p.mutable_grad().zero_();
}

void Optimizer::lars_adapt() {
  torch::NoGradGuard no_grad;
  const double wd = options_.weight_decay(), eta = options_.eta(), lr = this->lr();
  for (auto& p : adapted_) {
    if (!p.grad().defined()) continue;
    auto g = p.mutable_grad();
    const double pn = p.norm().item<double>(), gn = g.norm().item<double>();
    if (pn == 0.0 || gn == 0.0) continue;
    double trust = eta * pn / (gn + wd * pn + 1e-8);
    if (options_.clip_lr()) trust = std::min(trust / lr, 1.0);
    g.add_(p, wd).mul_(trust);
  }
}

void Optimizer::step() {
  if (!adapted_.empty()) lars_adapt();
  impl_->step();
}

double WarmupCosine::factor(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) {
    return start_factor + (1.0 - start_factor) * static_cast<double>(step) / warmup_steps;
  }
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace selfsup::train
