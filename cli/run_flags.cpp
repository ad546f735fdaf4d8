#include "run_flags.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "selfsup/core/progress.h"
#include "selfsup/train/hooks.h"

namespace selfsup::cli {

Config resolve_config(const RunFlags& f) {
  Config cfg = f.config.empty() ? Config() : Config::load(f.config);
  for (const auto& s : f.sets) cfg.set(s);
  if (f.seed >= 0) cfg.set("seed", YAML::Node(f.seed));
  return cfg;
}

CLI::Validator not_negative() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(v, x) || !(x >= 0)) return "must be a number >= 0, got " + v;
        return {};
      },
      "NUMBER >= 0");
}

std::string format_default(const YAML::Node& value) {
  if (value.IsSequence()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + format_default(value[i]);
    return out + "]";
  }
  if (!value.IsScalar()) return YAML::Dump(value);
  const std::string& text = value.Scalar();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const bool is_float = !text.empty() && end == text.c_str() + text.size() &&
                        text.find_first_of(".eE") != std::string::npos && std::isfinite(v);
  if (!is_float) return YAML::Dump(value);
  char buf[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string out = buf;
  // Still a float to YAML's reader: 2 would read back as an integer.
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}

void add_run_flags(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--config", f.config, "YAML config (e.g. configs/fashion_mnist/simclr.yaml)");
  cmd->add_option("--out", f.out, "the run's folder: its config, metrics, checkpoint and summary");
  cmd->add_option("--set", f.sets, "override a config key: --set train.lr=0.5 (repeatable)");
  cmd->add_option("--seed", f.seed, "seed for data order, augmentation and initialisation")
      ->check(not_negative());
  cmd->add_option("--time-limit", f.time_limit, "stop training cleanly after this many seconds, then evaluate")
      ->check(not_negative());
  cmd->add_flag("--resume", f.resume, "continue the run in --out from its last checkpoint");
  cmd->add_flag("--overwrite", f.overwrite, "replace the run in --out (a folder holding a run is refused otherwise)");
  cmd->add_flag("--no-eval", f.no_eval, "skip the evaluation at the end");
  cmd->add_flag("--quiet", f.quiet, "no live progress line");
}

run::RunOptions start_run(const RunFlags& f, const char* command) {
  TORCH_CHECK(!f.config.empty() || f.resume, command, " needs --config FILE (or --resume with --out)");
  TORCH_CHECK(!f.out.empty(), command, " needs --out DIR");
  if (f.resume) {
    // A resumed run continues with the config saved in its checkpoint; an override would be lost.
    std::string given = f.config.empty() ? "" : "--config " + f.config;
    for (const auto& s : f.sets) given += (given.empty() ? "" : ", ") + ("--set " + s);
    if (f.seed >= 0) given += (given.empty() ? "" : ", ") + std::string("--seed");
    TORCH_CHECK(given.empty(), "--resume continues with the config saved in the run; drop ", given);
  }
  TORCH_CHECK(std::isfinite(f.time_limit), "--time-limit must be a number of seconds, got ", f.time_limit);
  train::install_stop_handlers();
  run::RunOptions ro;
  ro.out_dir = f.out;
  ro.time_limit = f.time_limit;
  ro.resume = f.resume;
  ro.overwrite = f.overwrite;
  ro.evaluate = !f.no_eval;
  ro.quiet = f.quiet;
  set_progress_enabled(!f.quiet);
  return ro;
}

}  // namespace selfsup::cli
