#pragma once
// The library form of `selfsup prune`: a classifier trained by `semi` (or `pretrain` with the
// supervised method) whose convolution filters group lasso set to zero, thinned (nets/thin.h)
// and fine-tuned as the source run was trained. The thinned run's config carries the kept widths
// (model.channels), so its checkpoint loads in every other command.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Thins the classifier in `checkpoint` and fine-tunes it into `options.out_dir` as `semi` with the
/// source run's config, the kept widths and `sets` ("key=value", e.g. train.epochs=5,
/// regularize=[]). Returns the fine-tuning summary, with "prune": the widths, parameters and
/// MACs before and after, and how far the thinned model's outputs moved on test images.
nlohmann::json prune(const std::string& checkpoint, const std::vector<std::string>& sets, const RunOptions& options);

}  // namespace selfsup::run
