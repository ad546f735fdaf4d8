#pragma once
// The flags every command that writes a run folder takes (--config, --out, --set, --seed,
// --resume, --overwrite, ...) and their checks, shared by the subcommand files.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::cli {

struct RunFlags {
  std::string config, out;
  std::vector<std::string> sets;
  int64_t seed = -1;
  double time_limit = 0;
  bool resume = false, overwrite = false, no_eval = false, quiet = false;
};

/// The config file with the --set and --seed overrides applied.
Config resolve_config(const RunFlags& f);

/// A CLI11 check for a number >= 0 whose message names the value (CLI11's own prints the range).
CLI::Validator not_negative();

/// --config, --out, --set, --seed, --time-limit, --resume, --overwrite, --no-eval, --quiet.
void add_run_flags(CLI::App* cmd, RunFlags& f);

/// A declared key's default as a config would spell it: numbers in the fewest digits that read
/// back to the same double (yaml-cpp writes 0.2 as 0.20000000000000001), lists in flow style.
std::string format_default(const YAML::Node& value);

/// Checks the flags every training command needs and turns them into run options; installs the
/// SIGINT/SIGTERM handlers that stop a run cleanly.
run::RunOptions start_run(const RunFlags& f, const char* command);

}  // namespace selfsup::cli
