// selfsup weak apply | weak label-model | weak synthetic
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/run/weak.h"
#include "selfsup/weak/label_model.h"

namespace selfsup::cli {
void register_weak(CLI::App& app) {
  auto* weak = app.add_subcommand("weak", "weak supervision: label models over labeling functions' votes");
  weak->require_subcommand(1);

  static RunFlags apply_flags;
  auto* apply = weak->add_subcommand("apply", "apply the labeling functions of a config to the training and test images: votes");
  apply->add_option("--config", apply_flags.config, "the YAML: data, weak.encoder, weak.seed_per_class, functions")->required();
  apply->add_option("--out", apply_flags.out, "the folder for votes_train.npy, votes_test.npy, labels_*.npy, apply.json")
      ->required();
  apply->add_option("--set", apply_flags.sets, "override a config key: key=value (repeatable)");
  apply->add_option("--seed", apply_flags.seed, "the seed (draws the seed images)");
  apply->add_flag("--quiet", apply_flags.quiet, "no progress lines");
  apply->callback([] {
    std::cout << run::weak_apply(resolve_config(apply_flags), apply_flags.out, apply_flags.quiet).dump(2) << std::endl;
  });

  static run::LabelModelRequest req;
  auto* lm = weak->add_subcommand("label-model", "fit a label model to a votes matrix: probabilistic labels and each function's accuracy");
  lm->add_option("--votes", req.votes, "votes: CSV (one example a line, -1 abstains) or .npy [examples, functions]")->required();
  lm->add_option("--out", req.out_dir, "the folder for probabilities.npy, predictions.csv, label_model.json")->required();
  lm->add_option("--model", req.model, "majority_vote, dawid_skene or matrix_completion")
      ->check(CLI::IsMember(weak::label_model_names()))
      ->capture_default_str();
  lm->add_option("--classes", req.classes, "number of classes (default: the largest vote + 1)");
  lm->add_option("--class-balance", req.class_balance, "the class prior, one share per class (default: estimated)");
  lm->add_option("--labels", req.labels, "gold labels (.npy) to score the labels and majority vote on");
  lm->callback([] { std::cout << run::label_model(req).dump(2) << std::endl; });

  static std::string out;
  static int64_t n = 20000, functions = 10, classes = 3;
  static double acc_lo = 0.55, acc_hi = 0.95, cov_lo = 0.3, cov_hi = 0.9;
  static uint64_t seed = 0;
  auto* syn = weak->add_subcommand("synthetic", "write votes.npy and labels.npy of functions with known accuracies");
  syn->add_option("--out", out, "the folder to write")->required();
  syn->add_option("--n", n, "examples")->capture_default_str();
  syn->add_option("--functions", functions, "labeling functions")->capture_default_str();
  syn->add_option("--classes", classes, "balanced classes")->capture_default_str();
  syn->add_option("--accuracy-low", acc_lo, "the least accurate function's accuracy")->capture_default_str();
  syn->add_option("--accuracy-high", acc_hi, "the most accurate function's accuracy")->capture_default_str();
  syn->add_option("--coverage-low", cov_lo, "the lowest coverage")->capture_default_str();
  syn->add_option("--coverage-high", cov_hi, "the highest coverage")->capture_default_str();
  syn->add_option("--seed", seed, "seed")->capture_default_str();
  syn->callback([] {
    std::cout << run::synthetic_votes(out, n, functions, classes, acc_lo, acc_hi, cov_lo, cov_hi, seed).dump(2)
              << std::endl;
  });
}
}  // namespace selfsup::cli
