// selfsup tune
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/core/progress.h"
#include "selfsup/run/tune.h"

namespace selfsup::cli {
void register_tune(CLI::App& app) {
  static run::TuneOptions o;
  auto* t = app.add_subcommand("tune", "search methods and hyperparameters by successive halving on the validation "
                                       "split: each trial a run of the base config's command");
  t->add_option("--config", o.config, "the base config (any training command's)");
  t->add_option("--space", o.space, "the search: metric, direction, trials, eta, seed and space (YAML)");
  t->add_option("--out", o.out, "the search's folder: trials, tune_results.{json,md}, tune.png, best.yaml")->required();
  t->add_option("--time-limit", o.time_limit, "seconds of training the whole search may spend")->check(not_negative());
  t->add_option("--parallel", o.parallel, "trials run at once (they share the cores)")->check(CLI::PositiveNumber);
  t->add_flag("--resume", o.resume, "continue the search in --out from the trials that finished");
  t->add_flag("--overwrite", o.overwrite, "replace the search in --out");
  t->add_flag("--quiet", o.quiet, "no line per finished trial");
  t->callback([] {
    TORCH_CHECK(o.resume || o.time_limit > 0, "tune needs --time-limit SECONDS (the whole search's training time)");
    std::cout << run::tune(o).dump(2) << std::endl;
  });
}
}  // namespace selfsup::cli
