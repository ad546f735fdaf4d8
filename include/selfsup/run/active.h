#pragma once
// The library form of `selfsup active`: pool-based active learning rounds on a pretrained
// encoder (train a model on the labels so far, score the pool, query a batch, reveal its labels,
// repeat up to a label budget), and `selfsup active compare` for several runs' curves.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"

namespace selfsup::run {

/// The loop's own keys (`active.*`); the strategy's are `strategy.*` (active/strategy.h).
struct ActiveOptions {
  /// "linear": a linear head on the frozen encoder's features; "finetune": the whole network;
  /// "semi": the method of a `semi` config (semi_config) on the labeled images and the rest of the
  /// pool, semi_steps optimizer steps from the pretrained encoder.
  TORCH_ARG(std::string, model) = "linear";
  /// The first labeled set: "balanced" (initial_size / classes of each class, drawn from the
  /// seed), "random", or a strategy that needs no model (a cold start: typiclust, coreset).
  TORCH_ARG(std::string, initial) = "balanced";
  TORCH_ARG(int64_t, initial_size) = 10;
  TORCH_ARG(int64_t, batch) = 10;    // images queried per round
  TORCH_ARG(int64_t, budget) = 500;  // labels in all, the initial set included
  /// The linear model's L2 strength (on standardised features) and L-BFGS iterations.
  TORCH_ARG(double, l2) = 1e-2;
  TORCH_ARG(int64_t, max_iter) = 200;
  /// The fine-tuned model's recipe (eval/finetune.h), from the pretrained weights each round.
  TORCH_ARG(int64_t, finetune_steps) = 500;
  TORCH_ARG(int64_t, finetune_batch_size) = 64;
  TORCH_ARG(double, finetune_lr) = 0.01;
  TORCH_ARG(double, finetune_weight_decay) = 5e-4;
  TORCH_ARG(std::string, semi_config) = "";
  TORCH_ARG(int64_t, semi_steps) = 500;
  /// "simulated": labels from the data set; "files": a person answers each round's query CSV.
  TORCH_ARG(std::string, oracle) = "simulated";
  /// What the curve scores: "test", or "val", a validation split of val_per_class images of each
  /// class carved from the training images (they leave the pool), for choosing a recipe.
  TORCH_ARG(std::string, split) = "test";
  TORCH_ARG(int64_t, val_per_class) = 500;

 public:
  /// active.model, active.initial, active.initial_size, active.batch, active.budget, active.l2,
  /// active.max_iter, active.finetune.{steps,batch_size,lr,weight_decay}, active.semi.{config,steps}, active.oracle, active.split,
  /// active.val_per_class.
  static ActiveOptions from_config(const Config& cfg);
  /// Throws naming the first option out of range; `pool` is the number of training images and
  /// `classes` the number of classes.
  void check(int64_t pool, int64_t classes) const;
};

/// Runs (or with ro.resume continues) the loop in ro.out_dir on the encoder of the pretrain run
/// `init` (given at the start; a resumed loop uses the one it started with). `oracle` ("" = the
/// config's) overrides active.oracle. With the "files" oracle the loop writes
/// query_round_NNN.csv and stops until labels_round_NNN.csv exists; the summary then names the
/// file it waits for ("waiting_for").
nlohmann::json active(Config cfg, const RunOptions& ro, const std::string& init, const std::string& oracle = "");

/// Several runs' curves (each run folder's curve.json) grouped by strategy and model, as mean and
/// spread over the runs of a group at the label counts they share: a picture (`out_png`) and, as
/// returned, per group the area under the curve and accuracies.
nlohmann::json active_compare(const std::vector<std::string>& runs, const std::string& out_png);

/// The normalised area under a learning curve: the trapezoidal area over the label counts
/// divided by their range (a mean accuracy); the accuracy itself for one point.
double curve_area(const std::vector<double>& labels, const std::vector<double>& accuracy);

}  // namespace selfsup::run
