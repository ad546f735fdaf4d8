#pragma once
// The library form of `selfsup pretrain` and `selfsup eval`: a C++ program gets the same runs
// (same outputs in the same folder) as the command line.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/methods/method.h"

namespace selfsup::run {

struct RunOptions {
  std::string out_dir;        // required: config.yaml, metrics.jsonl, last.ckpt, summary.json
  double time_limit = 0;      // seconds of training; 0 = none
  bool resume = false;        // continue from out_dir/last.ckpt with the config saved there
  bool evaluate = true;       // run the evaluation protocols at the end
  bool quiet = false;         // no progress line
};

struct EvalOptions {
  std::vector<std::string> protocols{"knn", "linear"};  // knn | linear | finetune | propagate
  int64_t knn_k = 200;
  double knn_temperature = 0.1;
  int64_t linear_max_iter = 200;
  int64_t finetune_labels_per_class = 10;
  int64_t finetune_steps = 500;
  /// propagate: labels per class seeded, the graph's neighbours per node (eval/propagate.h), and
  /// how many label draws are propagated and averaged.
  int64_t propagate_labels_per_class = 10;
  int64_t propagate_k = 10;
  int64_t propagate_draws = 5;
  /// "test" scores the real test set; "val" fits on train minus a stratified validation split and
  /// scores that split (for comparing recipes without touching the test set).
  std::string split = "test";
  int64_t val_per_class = 500;
  /// `selfsup eval` only: where to evaluate a checkpoint ("" = the device it was trained on), so
  /// a checkpoint trained on a GPU evaluates on a machine without one.
  std::string device;
  /// eval.protocols, eval.knn_k, eval.knn_temperature, eval.linear_max_iter,
  /// eval.finetune_labels_per_class, eval.finetune_steps, eval.propagate_labels_per_class,
  /// eval.propagate_k, eval.propagate_draws, eval.split, eval.val_per_class.
  static EvalOptions from_config(const Config& cfg);
};

/// Pretrains the method in `cfg` and evaluates it; returns the summary also written to
/// out_dir/summary.json.
nlohmann::json pretrain(Config cfg, const RunOptions& options);

/// Evaluates a checkpoint written by pretrain (its config travels inside it).
nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const EvalOptions& options,
                                   int threads, const std::string& summary_path = "");

/// Scores raw pixels with the same protocols: the baseline any representation must beat.
nlohmann::json evaluate_raw_pixels(const Config& cfg, const EvalOptions& options);

}  // namespace selfsup::run
