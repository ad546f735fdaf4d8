#include "selfsup/train/regularize.h"

#include <c10/util/StringUtil.h>

#include <cmath>
#include <map>

#include "selfsup/nets/batchnorm.h"

namespace selfsup::train {
namespace {

namespace F = selfsup::functional;

const std::vector<std::string>& item_keys() {
  static const std::vector<std::string> keys{"type", "group", "strength", "layers", "threshold", "batchnorm"};
  return keys;
}

template <typename T>
T item_value(const YAML::Node& item, const std::string& where, const char* key, const char* expected) {
  try {
    return item[key].as<T>();
  } catch (const YAML::Exception&) {
    TORCH_CHECK(false, where, ".", key, " must be ", expected, ", got '", YAML::Dump(item[key]), "'");
  }
}

double non_negative(const YAML::Node& item, const std::string& where, const char* key) {
  const double v = item_value<double>(item, where, key, "a number");
  TORCH_CHECK(std::isfinite(v) && v >= 0, where, ".", key, " must be a finite number >= 0, got ", v);
  return v;
}

RegularizerSpec parse_item(const YAML::Node& item, const std::string& where) {
  TORCH_CHECK(item.IsMap(), where, " must be a map (type, strength, ...), got '", YAML::Dump(item), "'");
  for (const auto& kv : item) {
    const auto key = kv.first.as<std::string>();
    bool known = false;
    for (const auto& k : item_keys()) known = known || k == key;
    TORCH_CHECK(known, where, ": unknown key '", key, "' (keys: ", c10::Join(", ", item_keys()), ")");
  }
  TORCH_CHECK(item["type"].IsDefined(), where, ": needs a type (l1, l2 or group_lasso)");
  TORCH_CHECK(item["strength"].IsDefined(), where, ": needs a strength (>= 0)");
  RegularizerSpec spec;
  const auto type = item_value<std::string>(item, where, "type", "a string");
  if (type == "l1") {
    spec.type = Penalty::L1;
  } else if (type == "l2") {
    spec.type = Penalty::L2;
  } else if (type == "group_lasso") {
    spec.type = Penalty::GroupLasso;
  } else {
    TORCH_CHECK(false, where, ".type: unknown regularizer '", type, "' (known: l1, l2, group_lasso)");
  }
  spec.strength = non_negative(item, where, "strength");
  if (item["layers"].IsDefined()) {
    spec.layers = item_value<std::string>(item, where, "layers", "a string (a glob on layer names)");
    TORCH_CHECK(!spec.layers.empty(), where, ".layers is empty (leave it out for every convolution)");
  }
  if (spec.type == Penalty::GroupLasso) {
    if (item["group"].IsDefined()) {
      const auto name = item_value<std::string>(item, where, "group", "a string");
      std::vector<std::string> known;
      bool found = false;
      for (losses::Group g : losses::all_groups()) {
        known.emplace_back(losses::group_name(g));
        if (name == known.back()) {
          spec.group = g;
          found = true;
        }
      }
      TORCH_CHECK(found, where, ".group: unknown group '", name, "' (known: ", c10::Join(", ", known), ")");
    }
    if (item["threshold"].IsDefined()) spec.threshold = non_negative(item, where, "threshold");
    if (item["batchnorm"].IsDefined()) {
      spec.batchnorm = item_value<bool>(item, where, "batchnorm", "true or false");
      TORCH_CHECK(spec.group == losses::Group::Filters, where, ": batchnorm applies to group filters, not ",
                  losses::group_name(spec.group));
    }
  } else {
    TORCH_CHECK(!item["group"].IsDefined() && !item["threshold"].IsDefined() && !item["batchnorm"].IsDefined(), where,
                ": group, threshold and batchnorm apply to type group_lasso, not ", type);
  }
  return spec;
}

bool is_conv(const torch::Tensor& w) { return w.dim() == 4; }

// Each convolution's name -> the batch norm registered right after it with one entry per filter.
std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> batchnorm_after_conv(torch::nn::Module& model) {
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> out;
  const auto modules = model.named_modules("", /*include_self=*/false);
  for (size_t i = 0; i + 1 < modules.size(); ++i) {
    const auto* conv = modules[i].value()->as<torch::nn::Conv2dImpl>();
    if (conv == nullptr) continue;
    const auto& next = modules[i + 1].value();
    torch::Tensor weight, bias;
    if (const auto* bn = next->as<nets::BatchNormImpl>()) {
      weight = bn->weight;
      bias = bn->bias;
    } else if (const auto* bn2 = next->as<torch::nn::BatchNorm2dImpl>()) {
      weight = bn2->weight;
      bias = bn2->bias;
    }
    if (weight.defined() && bias.defined() && weight.size(0) == conv->weight.size(0) && weight.requires_grad()) {
      out[modules[i].key()] = {weight, bias};
    }
  }
  return out;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard matching with one backtrack point for the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<RegularizerSpec> regularizers_from_config(const Config& cfg) {
  const YAML::Node list = cfg.node("regularize");
  std::vector<RegularizerSpec> specs;
  if (!list.IsDefined() || list.IsNull()) return specs;
  TORCH_CHECK(list.IsSequence(), "regularize must be a list of regularizers (- type: group_lasso ...), got '",
              YAML::Dump(list), "'");
  for (size_t i = 0; i < list.size(); ++i) {
    specs.push_back(parse_item(list[i], "regularize[" + std::to_string(i) + "]"));
  }
  return specs;
}

Regularization::Regularization(std::vector<RegularizerSpec> specs, torch::nn::Module& model) {
  // The layers: trained weights of at least 2 dimensions, named without ".weight".
  std::vector<std::pair<std::string, torch::Tensor>> layers;
  const std::string suffix = ".weight";
  for (const auto& p : model.named_parameters()) {
    const auto& name = p.key();
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (p.value().dim() < 2 || !p.value().requires_grad()) continue;
    layers.emplace_back(name.substr(0, name.size() - suffix.size()), p.value());
  }
  const auto batchnorms = batchnorm_after_conv(model);
  for (size_t i = 0; i < specs.size(); ++i) {
    Term t{specs[i], {}, {}};
    for (const auto& [name, w] : layers) {
      const bool picked = t.spec.layers.empty() ? is_conv(w) : glob_match(t.spec.layers, name);
      if (!picked) continue;
      TORCH_CHECK(t.spec.type != Penalty::GroupLasso || t.spec.group != losses::Group::Kernels || w.dim() >= 3,
                  "regularize[", i, "]: group kernels needs convolutions, but layers '", t.spec.layers, "' picks ",
                  name, " of shape ", w.sizes());
      t.layers.emplace_back(name, w);
      if (t.spec.type == Penalty::GroupLasso && t.spec.group == losses::Group::Filters) {
        const auto bn = batchnorms.find(name);
        t.joint.push_back(t.spec.batchnorm && bn != batchnorms.end()
                              ? std::vector<torch::Tensor>{w, bn->second.first, bn->second.second}
                              : std::vector<torch::Tensor>{w});
      }
    }
    if (t.layers.empty()) {
      std::vector<std::string> names;
      for (const auto& l : layers) names.push_back(l.first);
      TORCH_CHECK(false, "regularize[", i, "].layers '", t.spec.layers.empty() ? "(every convolution)" : t.spec.layers,
                  "' matches no layer (layers: ", c10::Join(", ", names), ")");
    }
    terms_.push_back(std::move(t));
  }
}

torch::Tensor Regularization::penalty() const {
  torch::Tensor total;
  for (const auto& t : terms_) {
    for (const auto& parts : t.joint) {
      const auto p = t.spec.strength * F::joint_filter_norms(parts).sum();
      total = total.defined() ? total + p : p;
    }
    if (!t.joint.empty()) continue;
    for (const auto& [name, w] : t.layers) {
      torch::Tensor p;
      switch (t.spec.type) {
        case Penalty::L1: p = F::l1_regularizer(w, F::L1Options().strength(t.spec.strength)); break;
        case Penalty::L2: p = F::l2_regularizer(w, F::L2Options().strength(t.spec.strength)); break;
        case Penalty::GroupLasso:
          p = F::group_lasso(w, F::GroupLassoOptions().group(t.spec.group).strength(t.spec.strength));
          break;
      }
      total = total.defined() ? total + p : p;
    }
  }
  return total.defined() ? total : torch::zeros({});
}

int64_t Regularization::apply_thresholds() {
  int64_t zero = 0;
  for (const auto& t : terms_) {
    if (t.spec.type != Penalty::GroupLasso || t.spec.threshold <= 0) continue;
    if (!t.joint.empty()) {
      for (const auto& parts : t.joint) zero += F::threshold_joint_filters_(parts, t.spec.threshold);
      continue;
    }
    for (const auto& [name, w] : t.layers) zero += F::threshold_groups_(w, t.spec.group, t.spec.threshold);
  }
  return zero;
}

void Regularization::before_optimizer_step(LoopState&, methods::StepOutput& out) {
  const torch::Tensor p = penalty();
  if (p.requires_grad()) p.backward();
  out.metrics["reg_penalty"] = p.item<double>();
}

std::unique_ptr<Regularization> regularization_from_config(const Config& cfg, torch::nn::Module& model) {
  auto specs = regularizers_from_config(cfg);
  if (specs.empty()) return nullptr;
  return std::make_unique<Regularization>(std::move(specs), model);
}

}  // namespace selfsup::train
