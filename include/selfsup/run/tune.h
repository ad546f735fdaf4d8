#pragma once
// The library form of `selfsup tune`: successive halving over a search space of config keys
// (tune/search.h), each trial a run of the command that trains the base config's method, started
// as its own process, scored on the validation figures of its summary and never on the test set.
// A space with a `pretrain:` block searches pipelines: each trial pretrains for its share of the
// budget, then trains the method from that encoder.
#include <nlohmann/json.hpp>
#include <string>

namespace selfsup::run {

struct TuneOptions {
  std::string config;     // the base config (any training command's)
  std::string space;      // the search space and the search's settings (YAML)
  std::string out;        // the search's folder
  double time_limit = 0;  // seconds of training the whole search may spend
  int parallel = 1;       // trials run at once (the machine's cores are shared among them)
  bool resume = false;    // continue a stopped search in `out`
  bool overwrite = false;
  bool quiet = false;
};

/// Runs (or resumes) the search; returns the ranked table also written to out/tune_results.json,
/// with out/tune_results.md, out/tune.png (every trial's score per rung) and out/best.yaml.
nlohmann::json tune(const TuneOptions& options);

}  // namespace selfsup::run
