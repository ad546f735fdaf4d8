#pragma once
// The library form of `selfsup semi`: a classifier from `data.labels_per_class` labels per class
// plus the rest of the training set as unlabeled data (minus a validation split that neither
// stream ever sees), then the accuracy of the last and the EMA model (eval/classifier.h).
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/methods/semi.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Trains the semi-supervised method in `cfg`. `init_checkpoint` (optional) is a `pretrain`
/// checkpoint whose encoder initialises the classifier (train/transfer.h: pretrain, then
/// semi-supervised fine-tuning). Returns the summary also written to the run folder.
/// `prepare` (optional) is called on the freshly built method before training (not on resume).
nlohmann::json semi(Config cfg, const RunOptions& options, const std::string& init_checkpoint = "",
                    const std::function<void(methods::SemiMethodImpl&)>& prepare = {});

/// The draw `semi` would train on with `cfg`: {dataset, train_size, seed, labels_per_class,
/// val_per_class, labeled, unlabeled, val}, the last three indices into the training set. What
/// `selfsup semi --dump-split FILE` writes, so another program can train on the same images.
nlohmann::json semi_split_indices(const Config& cfg);

}  // namespace selfsup::run
