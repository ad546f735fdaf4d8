#pragma once
// The library form of `selfsup pretrain`: a C++ program gets the same run (the same outputs in
// the same folder) as the command line.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Pretrains the self-supervised (or supervised) method in `cfg`, then runs the evaluation
/// protocols of its eval section; returns the summary also written to the run folder.
nlohmann::json pretrain(Config cfg, const RunOptions& options);

}  // namespace selfsup::run
