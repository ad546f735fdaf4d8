#pragma once
// The library form of `selfsup eval`: the evaluation protocols (eval/protocols.h) on a
// checkpoint's encoder, or on raw pixels.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/eval/protocols.h"

namespace selfsup::run {

/// Evaluates a checkpoint written by pretrain (its config travels inside it) with `threads`
/// intra-op threads (0: all cores) on `device` ("": the one it was trained on). `sets` override
/// keys of that config that leave its tensors as they are, e.g. model.pool=mean for a ViT.
nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const eval::EvalOptions& options, int threads = 0,
                                   const std::string& device = "", const std::vector<std::string>& sets = {});

/// Writes a masked autoencoder checkpoint's reconstruction picture (eval/reconstruct.h) to
/// `png_path` atomically; the summary names the file, the step and the number of images.
nlohmann::json reconstruct_checkpoint(const std::string& checkpoint, const std::string& png_path, int threads = 0,
                                      const std::string& device = "");

/// Scores raw pixels with the same protocols: the baseline any representation must beat.
nlohmann::json evaluate_raw_pixels(const Config& cfg, const eval::EvalOptions& options);

}  // namespace selfsup::run
