// The YAML config and `--set` overrides: the input is a YAML document, then after a line holding
// only "---set---", one override per line. The lookups are those a run makes, with every type.
#include "selfsup/core/config.h"

#include <exception>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker = "\n---set---\n";
  const auto cut = input.find(marker);
  const std::string yaml = input.substr(0, cut);
  try {
    auto cfg = selfsup::Config::parse(yaml, "fuzz");
    if (cut != std::string::npos) {
      std::istringstream sets(input.substr(cut + marker.size()));
      for (std::string line; std::getline(sets, line);) cfg.set(line);
    }
    for (const char* key : {"seed", "method.name", "train.lr", "train.max_steps", "data.limit", "model.channels"}) {
      try { cfg.get<double>(key, 0.0); } catch (const std::exception&) {}
      try { cfg.get<int64_t>(key, 0); } catch (const std::exception&) {}
      try { cfg.get<std::string>(key, ""); } catch (const std::exception&) {}
      try { cfg.get<bool>(key, false); } catch (const std::exception&) {}
      try { cfg.get<std::vector<int64_t>>(key, {}); } catch (const std::exception&) {}
    }
    cfg.leaf_keys("train");
    cfg.leaf_keys("method");
    selfsup::Config::parse(cfg.dump(), "fuzz dump");
    cfg.unused_keys();
  } catch (const std::exception&) {
  }
  return 0;
}
