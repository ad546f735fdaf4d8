#include "selfsup/train/precision.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::train {
namespace fs = std::filesystem;

namespace {

std::string hex_fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool known_precision(const std::string& p) { return p == "fp32" || p == "bf16"; }

}  // namespace

nlohmann::json PrecisionChoice::to_json() const {
  nlohmann::json j;
  j["precision"] = precision;
  j["source"] = source;
  if (!images_per_second.empty()) j["images_per_second"] = images_per_second;
  if (source == "probe") j["probe_seconds"] = probe_seconds;
  if (!cache_file.empty()) j["cache_file"] = cache_file;
  return j;
}

std::string PrecisionChoice::describe() const {
  std::ostringstream out;
  out << "precision auto: " << precision;
  if (!images_per_second.empty()) {
    out << " (";
    const char* sep = "";
    for (const auto& [p, rate] : images_per_second) {
      out << sep << p << " " << std::fixed << std::setprecision(0) << rate << " img/s";
      sep = ", ";
    }
    out << ")";
  }
  if (source == "probe") {
    out << ", probed in " << std::fixed << std::setprecision(1) << probe_seconds << " s";
    if (!cache_file.empty()) out << ", kept in " << cache_file;
  } else if (source == "cache") {
    out << ", from " << cache_file;
  } else if (source == "only") {
    out << ", the only precision this device computes natively";
  } else if (source == "short") {
    out << ", without timing: the run is shorter than train.precision_probe_min_steps";
  }
  return out.str();
}

std::vector<std::string> native_precisions(c10::DeviceType device) {
  if (device == c10::DeviceType::CUDA || (device == c10::DeviceType::CPU && cpu_has_native_bf16())) {
    return {"fp32", "bf16"};
  }
  return {"fp32"};
}

std::string faster_precision(const std::map<std::string, double>& images_per_second) {
  TORCH_CHECK(!images_per_second.empty(), "faster_precision: no precision was measured");
  std::string best = "fp32";
  double best_rate = -1;
  auto it = images_per_second.find("fp32");
  if (it != images_per_second.end()) best_rate = it->second;
  for (const auto& [p, rate] : images_per_second) {
    TORCH_CHECK(known_precision(p), "faster_precision: unknown precision '", p, "'");
    if (rate > best_rate) {
      best = p;
      best_rate = rate;
    }
  }
  return best;
}

std::string precision_cache_path() {
  fs::path dir;
  if (!env("SELFSUP_CACHE_DIR").empty()) {
    dir = env("SELFSUP_CACHE_DIR");
  } else if (!env("XDG_CACHE_HOME").empty()) {
    dir = fs::path(env("XDG_CACHE_HOME")) / "selfsup";
  } else if (!env("HOME").empty()) {
    dir = fs::path(env("HOME")) / ".cache" / "selfsup";
  } else {
    return {};
  }
  return (dir / "precision.json").string();
}

std::string precision_cache_key(const std::string& shape, c10::DeviceType device) {
  std::ostringstream key;
  key << cpu_model_name() << " | flags " << hex_fnv1a(cpu_flags()) << " | libtorch " << TORCH_VERSION << " | "
      << c10::DeviceTypeName(device, true) << " | threads " << at::get_num_threads() << " | processes "
      << dist::world_size() << " | " << shape;
  return key.str();
}

std::optional<PrecisionChoice> read_precision_cache(const std::string& path, const std::string& key) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return std::nullopt;
  try {
    std::ifstream in(path);
    const auto all = nlohmann::json::parse(in);
    if (!all.contains(key)) return std::nullopt;
    const auto& e = all.at(key);
    PrecisionChoice c;
    c.precision = e.at("precision").get<std::string>();
    if (!known_precision(c.precision)) throw std::runtime_error("unknown precision '" + c.precision + "'");
    c.images_per_second = e.value("images_per_second", std::map<std::string, double>{});
    c.source = "cache";
    c.cache_file = path;
    return c;
  } catch (const std::exception& e) {
    std::cerr << "warning: ignoring the precision cache " << path << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

void write_precision_cache(const std::string& path, const std::string& key, const PrecisionChoice& choice) {
  if (path.empty()) return;
  try {
    nlohmann::json all = nlohmann::json::object();
    std::error_code ec;
    if (fs::exists(path, ec)) {
      std::ifstream in(path);
      all = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!all.is_object()) all = nlohmann::json::object();  // unreadable: started again
    }
    all[key] = {{"precision", choice.precision}, {"images_per_second", choice.images_per_second}};
    fs::create_directories(fs::path(path).parent_path());
    write_file_atomic(path, all.dump(2) + "\n");
  } catch (const std::exception& e) {
    std::cerr << "warning: the precision cache " << path << " was not written: " << e.what() << "\n";
  }
}

}  // namespace selfsup::train
