#pragma once
// The library form of `selfsup pretrain` and `selfsup eval`: a C++ program gets the same runs
// (same outputs in the same folder) as the command line.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Pretrains the self-supervised (or supervised) method in `cfg`, then runs the evaluation
/// protocols of its eval section; returns the summary also written to the run folder.
nlohmann::json pretrain(Config cfg, const RunOptions& options);

/// Evaluates a checkpoint written by pretrain (its config travels inside it) with `threads`
/// intra-op threads (0: all cores) on `device` ("": the one it was trained on).
nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const eval::EvalOptions& options, int threads = 0,
                                   const std::string& device = "");

/// Scores raw pixels with the same protocols: the baseline any representation must beat.
nlohmann::json evaluate_raw_pixels(const Config& cfg, const eval::EvalOptions& options);

}  // namespace selfsup::run
