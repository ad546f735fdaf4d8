#pragma once
// The library form of `selfsup pu`: a binary classifier of the positive classes
// (data.positive_classes) against the rest from data.labeled_positives labeled positives and
// unlabeled images (data.unlabeled: every training image, or the rest), with a validation split
// held out of both; then accuracy, precision, recall, F1 and AUC of the last model on validation
// and test, the risk terms at the true prior on the training and validation data, and the class
// prior (given, or estimated on the validation split by a labeled-vs-unlabeled classifier trained
// first: pu.prior, pu.prior_estimator, pu.estimate_steps) beside the true one.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// Trains the positive-unlabeled method in `cfg`. `init_checkpoint` (optional) is a `pretrain`
/// checkpoint whose encoder initialises the classifier (train/transfer.h). Returns the summary
/// also written to the run folder.
nlohmann::json pu(Config cfg, const RunOptions& options, const std::string& init_checkpoint = "");

}  // namespace selfsup::run
