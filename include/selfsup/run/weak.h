#pragma once
// The library form of `selfsup weak`: a label model fitted to a votes file, and synthetic votes of
// known accuracies to measure label models on.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "selfsup/core/config.h"

namespace selfsup::run {

/// Reads a votes matrix: a CSV of integers (one example a line, one labeling function a column,
/// -1 abstains; a header line of names allowed) or a NumPy .npy of integers [n, m]. Throws naming
/// the line of a ragged row or of a value that is not an integer.
torch::Tensor read_votes(const std::string& path);

struct LabelModelRequest {
  std::string votes, model = "matrix_completion", out_dir, labels;  // labels: optional .npy of gold labels to score
  int64_t classes = 0;                                              // 0: the largest vote + 1
  std::vector<double> class_balance;                                // empty: estimated
};

/// Fits the label model and writes into out_dir (atomically): probabilities.npy (float32 [n, k]),
/// predictions.csv (index, label, confidence; -1 where every function abstained) and
/// label_model.json (the summary returned: per function its estimated accuracy and coverage, the
/// class balance, and with gold labels the accuracy of the labels and of majority vote on them).
nlohmann::json label_model(const LabelModelRequest& request);

/// Writes votes.npy and labels.npy of `functions` synthetic functions (weak/label_model.h) whose
/// accuracies are spread evenly over [accuracy_low, accuracy_high] and coverages over
/// [coverage_low, coverage_high], on n examples of `classes` balanced classes.
nlohmann::json synthetic_votes(const std::string& out_dir, int64_t n, int64_t functions, int64_t classes,
                               double accuracy_low, double accuracy_high, double coverage_low, double coverage_high,
                               uint64_t seed);

/// `selfsup weak apply`: the labeling functions of cfg's `functions:` (weak/labeling_functions.h)
/// applied to the training and the test images of cfg's data set, with weak.seed_per_class seed
/// images per class drawn from the training set (a stream of the run's seed) and the encoder
/// of the pretrain run weak.encoder for prototype and knn functions. Writes into out_dir
/// (atomically): votes_train.npy, votes_test.npy (int64 [images, functions], -1 abstains), the gold
/// labels labels_train.npy and labels_test.npy (for scoring only: `weak label-model --labels`),
/// seed_indices.npy and apply.json (per function its coverage and accuracy on each split).
nlohmann::json weak_apply(Config cfg, const std::string& out_dir, bool quiet);

}  // namespace selfsup::run
