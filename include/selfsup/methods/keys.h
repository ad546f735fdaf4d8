#pragma once
// The config keys a method reads, declared once, with their defaults, beside the method (as
// solo-learn declares each method's keys): `selfsup methods NAME` prints them, a `method.*` key the
// method does not declare is refused when it is built, and each default exists in one place.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "selfsup/core/config.h"

namespace selfsup::methods {

struct KeyDecl {
  std::string key;  // dotted, e.g. "method.threshold"
  YAML::Node default_value;
  std::string help;
};

class KeySet {
 public:
  template <typename T>
  KeySet& add(const std::string& key, const T& default_value, const std::string& help) {
    return add_node(key, YAML::Node(default_value), help);
  }
  /// Appends another set (a shared component's keys); a key declared twice is an error.
  KeySet& add(const KeySet& other);
  /// A method's recipe for a key a shared component declares (e.g. MixMatch's unlabeled weight).
  template <typename T>
  KeySet& set_default(const std::string& key, const T& value) {
    return set_default_node(key, YAML::Node(value));
  }
  const std::vector<KeyDecl>& list() const { return keys_; }
  const KeyDecl* find(const std::string& key) const;

 private:
  KeySet& add_node(const std::string& key, YAML::Node default_value, const std::string& help);
  KeySet& set_default_node(const std::string& key, YAML::Node value);
  std::vector<KeyDecl> keys_;
};

/// A method's view of the run's config: every read names a declared key and falls back to that
/// key's declared default, so a method cannot carry a second default of its own.
class MethodConfig {
 public:
  /// Refuses any key under `section.` (other than `section`.name) that `keys` does not declare,
  /// naming it and the keys `method` has. Other pluggable parts with keys of their own (an active
  /// learning strategy: section "strategy") read their config the same way.
  MethodConfig(const Config& cfg, const KeySet& keys, const std::string& method, const std::string& section = "method");

  template <typename T>
  T get(const std::string& key) const {
    const auto& d = declared(key);
    return cfg_.get<T>(key, d.default_value.as<T>());
  }
  /// Whether the config itself gives the key (not its default).
  bool given(const std::string& key) const { return cfg_.has(key); }
  bool declares(const std::string& key) const { return keys_.find(key) != nullptr; }
  const std::string& method() const { return method_; }
  /// The whole config, for builders with keys of their own (model.* for the backbone).
  const Config& config() const { return cfg_; }

 private:
  const KeyDecl& declared(const std::string& key) const;
  const Config& cfg_;
  const KeySet& keys_;
  std::string method_;
  std::string section_;
};

}  // namespace selfsup::methods
