#pragma once
// What every training command takes besides its config.
#include <nlohmann/json.hpp>
#include <string>

namespace selfsup::run {

struct RunOptions {
  std::string out_dir;     // the run's folder (train/run_dir.h)
  double time_limit = 0;   // seconds of training; 0 = none
  bool resume = false;     // continue the run in out_dir from its checkpoint, with its saved config
  bool overwrite = false;  // replace the run in out_dir instead of refusing the folder
  bool evaluate = true;    // evaluate at the end
  bool quiet = false;      // no progress line
  nlohmann::json summary_extra;  // merged into the run's summary (what a command did before training)
};

}  // namespace selfsup::run
