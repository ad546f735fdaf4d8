#pragma once
// A run's configuration: a YAML tree addressed by dotted keys ("train.lr"), overridable from the
// command line with key=value, and able to say which keys nobody read (typos fail loudly).
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

namespace selfsup {

class Config {
 public:
  Config();
  explicit Config(YAML::Node root, std::string source = "<inline>");

  /// Loads a YAML file; throws c10::Error naming the file on a missing or malformed file.
  static Config load(const std::string& path);
  static Config parse(const std::string& yaml_text, std::string source = "<inline>");

  /// Applies "a.b.c=value"; the value is parsed as a YAML scalar or flow sequence/map.
  void set(const std::string& assignment);
  void set(const std::string& key, const YAML::Node& value);

  bool has(const std::string& key) const;
  /// Reads a key, converting to T; a present key of the wrong type is an error naming the key.
  template <typename T>
  T get(const std::string& key, const T& fallback) const;
  template <typename T>
  T require(const std::string& key) const;
  YAML::Node node(const std::string& key) const;  // undefined node if absent

  /// The keys (leaves) present under `section` ("method" -> "method.threshold", ...).
  std::vector<std::string> leaf_keys(const std::string& section) const;
  /// Keys present in the tree (leaves) that no get/require/node call has touched.
  std::vector<std::string> unused_keys() const;
  /// Throws naming the first unread key, e.g. a typo such as "train.lrr".
  void check_all_used() const;

  std::string dump() const;
  const std::string& source() const { return source_; }
  YAML::Node root() const { return root_; }

 private:
  YAML::Node find(const std::string& key) const;
  void check_duplicates(const YAML::Node& n, const std::string& prefix) const;
  [[noreturn]] void type_error(const std::string& key, const char* expected) const;
  YAML::Node root_;
  std::string source_;
  mutable std::set<std::string> used_;
};

template <typename T>
T Config::get(const std::string& key, const T& fallback) const {
  YAML::Node n = find(key);
  used_.insert(key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    type_error(key, typeid(T).name());
  }
}

template <typename T>
T Config::require(const std::string& key) const {
  YAML::Node n = find(key);
  used_.insert(key);
  if (!n.IsDefined() || n.IsNull()) {
    type_error(key, "a value (the key is missing)");
  }
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    type_error(key, typeid(T).name());
  }
}

}  // namespace selfsup
