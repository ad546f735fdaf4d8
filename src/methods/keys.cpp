#include "selfsup/methods/keys.h"

#include <c10/util/Exception.h>

namespace selfsup::methods {

const KeyDecl* KeySet::find(const std::string& key) const {
  for (const auto& k : keys_) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

KeySet& KeySet::add_node(const std::string& key, YAML::Node default_value, const std::string& help) {
  TORCH_CHECK(find(key) == nullptr, "config key '", key, "' declared twice");
  keys_.push_back({key, std::move(default_value), help});
  return *this;
}

KeySet& KeySet::add(const KeySet& other) {
  for (const auto& k : other.keys_) add_node(k.key, k.default_value, k.help);
  return *this;
}

KeySet& KeySet::set_default_node(const std::string& key, YAML::Node value) {
  for (auto& k : keys_) {
    if (k.key == key) {
      k.default_value = std::move(value);
      return *this;
    }
  }
  TORCH_CHECK(false, "set_default: config key '", key, "' is not declared");
}

MethodConfig::MethodConfig(const Config& cfg, const KeySet& keys, const std::string& method, const std::string& section)
    : cfg_(cfg), keys_(keys), method_(method), section_(section) {
  const std::string prefix = section + ".";
  for (const auto& key : cfg.leaf_keys(section)) {
    if (key == prefix + "name" || keys.find(key)) continue;
    std::string known;
    for (const auto& k : keys.list()) {
      if (k.key.rfind(prefix, 0) == 0) known += (known.empty() ? "" : ", ") + k.key;
    }
    TORCH_CHECK(false, "config key '", key, "' in ", cfg.source(), " is not a key of ", section, " ", method,
                " (its keys: ", known.empty() ? "none" : known, "; `selfsup ",
                section == "method" ? "methods " : "active strategies ", method,
                "` lists them with their defaults)");
  }
}

const KeyDecl& MethodConfig::declared(const std::string& key) const {
  const auto* d = keys_.find(key);
  TORCH_CHECK(d != nullptr, section_, " ", method_, " reads config key '", key, "' without declaring it");
  return *d;
}

}  // namespace selfsup::methods
