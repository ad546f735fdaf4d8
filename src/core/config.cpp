#include "selfsup/core/config.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace selfsup {
namespace {

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  std::string p;
  while (std::getline(ss, p, '.')) {
    TORCH_CHECK(!p.empty(), "config key '", key, "' has an empty component");
    parts.push_back(p);
  }
  TORCH_CHECK(!parts.empty(), "config key is empty");
  return parts;
}

void collect_leaves(const YAML::Node& n, const std::string& prefix, std::vector<std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      collect_leaves(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else if (!prefix.empty()) {
    out.push_back(prefix);
  }
}

const char* pretty_type(const char* mangled) {
  const std::string t = mangled;
  if (t == typeid(int).name() || t == typeid(int64_t).name()) return "an integer";
  if (t == typeid(double).name() || t == typeid(float).name()) return "a number";
  if (t == typeid(bool).name()) return "true or false";
  if (t == typeid(std::string).name()) return "a string";
  return mangled;
}

}  // namespace

Config::Config() : root_(YAML::NodeType::Map), source_("<empty>") {}

Config::Config(YAML::Node root, std::string source) : root_(std::move(root)), source_(std::move(source)) {
  if (!root_.IsDefined() || root_.IsNull()) root_ = YAML::Node(YAML::NodeType::Map);
  TORCH_CHECK(root_.IsMap(), "config ", source_, " must be a YAML mapping at the top level");
  check_duplicates(root_, "");
}

// yaml-cpp keeps both pairs of a key given twice and its lookups return the first: a second
// `train:` block or a repeated key would silently lose.
void Config::check_duplicates(const YAML::Node& n, const std::string& prefix) const {
  if (n.IsSequence()) {
    for (const auto& item : n) check_duplicates(item, prefix);
    return;
  }
  if (!n.IsMap()) return;
  std::map<std::string, int> seen;
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    const int line = kv.first.Mark().line + 1;
    auto [it, fresh] = seen.emplace(k, line);
    TORCH_CHECK(fresh, "config ", source_, ": key '", key, "' is given twice (line ", it->second, " and line ", line,
                ")");
    check_duplicates(kv.second, key);
  }
}

Config Config::load(const std::string& path) {
  std::error_code ec;
  TORCH_CHECK(!std::filesystem::is_directory(path, ec), "config ", path, " is a folder, not a YAML file");
  std::ifstream in(path);
  TORCH_CHECK(in.good(), "cannot open config file '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Config Config::parse(const std::string& text, std::string source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, "config ", source, " is not valid YAML: ", e.what());
  }
  return Config(root, std::move(source));
}

YAML::Node Config::find(const std::string& key) const {
  // const operator[] never inserts; reset() rebinds the handle (operator= would overwrite the
  // node it points to, a classic yaml-cpp trap).
  YAML::Node cur;
  cur.reset(root_);
  for (const auto& part : split_key(key)) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& c = cur;
    YAML::Node next = c[part];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

bool Config::has(const std::string& key) const {
  YAML::Node n = find(key);
  return n.IsDefined() && !n.IsNull();
}

YAML::Node Config::node(const std::string& key) const {
  used_.insert(key);
  return find(key);
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  TORCH_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '", assignment, "'");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  TORCH_CHECK(!text.empty(), "--set ", key, "= has no value (to keep the default, leave the key out)");
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, "--set ", key, ": cannot parse value '", text, "': ", e.what());
  }
  if (!value.IsDefined()) value = YAML::Node(text);
  set(key, value);
}

void Config::set(const std::string& key, const YAML::Node& value) {
  const auto parts = split_key(key);
  // Rebuild the path so that assignments never alias nodes shared with other configs.
  std::vector<YAML::Node> chain{root_};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node child = chain.back()[parts[i]];
    if (!child.IsDefined() || !child.IsMap()) {
      TORCH_CHECK(!child.IsDefined() || child.IsNull() || child.IsMap(), "cannot set '", key,
                  "': '", parts[i], "' holds a value, not a section");
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child.reset(chain.back()[parts[i]]);
    }
    chain.push_back(child);
  }
  chain.back()[parts.back()] = value;
}

std::vector<std::string> Config::leaf_keys(const std::string& section) const {
  std::vector<std::string> out;
  YAML::Node n = find(section);
  if (n.IsDefined() && !n.IsNull()) collect_leaves(n, section, out);
  return out;
}

std::vector<std::string> Config::unused_keys() const {
  std::vector<std::string> leaves, out;
  collect_leaves(root_, "", leaves);
  for (const auto& k : leaves) {
    bool used = false;
    for (const auto& u : used_) {
      // Reading a section (e.g. "augment.views") counts for every key under it.
      if (k == u || (k.size() > u.size() && k.compare(0, u.size(), u) == 0 && k[u.size()] == '.')) {
        used = true;
        break;
      }
    }
    if (!used) out.push_back(k);
  }
  return out;
}

void Config::check_all_used() const {
  const auto unused = unused_keys();
  TORCH_CHECK(unused.empty(), "unknown config key '", unused.empty() ? "" : unused.front(), "' in ",
              source_, " (no part of this command reads it; check the spelling)");
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

void Config::type_error(const std::string& key, const char* expected) const {
  std::string value;
  YAML::Node n = find(key);
  if (n.IsScalar()) value = " (got '" + n.Scalar() + "')";
  TORCH_CHECK(false, "config key '", key, "' in ", source_, " must be ", pretty_type(expected), value);
}

}  // namespace selfsup
