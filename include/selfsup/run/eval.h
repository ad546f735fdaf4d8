#pragma once
// The library form of `selfsup eval`: the evaluation protocols (eval/protocols.h) on a
// checkpoint's encoder, or on raw pixels.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/eval/protocols.h"

namespace selfsup::run {

/// Evaluates a checkpoint written by pretrain (its config travels inside it) with `threads`
/// intra-op threads (0: all cores) on `device` ("": the one it was trained on).
nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const eval::EvalOptions& options, int threads = 0,
                                   const std::string& device = "");

/// Scores raw pixels with the same protocols: the baseline any representation must beat.
nlohmann::json evaluate_raw_pixels(const Config& cfg, const eval::EvalOptions& options);

}  // namespace selfsup::run
