#pragma once
// The evaluation protocols of `selfsup pretrain` and `selfsup eval` as one call: features of the
// fitted and the scored images, then weighted kNN, the linear probe, fine-tuning with k labels per
// class and label propagation over several label draws, as a JSON summary.
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/data/dataset.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/train/loader.h"

namespace selfsup::eval {

struct EvalOptions {
  TORCH_ARG(std::vector<std::string>, protocols) = std::vector<std::string>({"knn", "linear"});
  TORCH_ARG(int64_t, knn_k) = 200;
  TORCH_ARG(double, knn_temperature) = 0.1;
  TORCH_ARG(int64_t, linear_max_iter) = 200;
  TORCH_ARG(int64_t, finetune_labels_per_class) = 10;
  TORCH_ARG(int64_t, finetune_steps) = 500;
  /// propagate: labels per class seeded, the graph's neighbours per node (eval/propagate.h), and
  /// how many label draws are propagated and averaged.
  TORCH_ARG(int64_t, propagate_labels_per_class) = 10;
  TORCH_ARG(int64_t, propagate_k) = 10;
  TORCH_ARG(int64_t, propagate_draws) = 5;
  /// "test" scores the real test set; "val" fits on train minus a stratified validation split and
  /// scores that split (for comparing recipes without touching the test set).
  TORCH_ARG(std::string, split) = "test";
  TORCH_ARG(int64_t, val_per_class) = 500;

 public:
  /// eval.protocols, eval.knn_k, eval.knn_temperature, eval.linear_max_iter,
  /// eval.finetune_labels_per_class, eval.finetune_steps, eval.propagate_labels_per_class,
  /// eval.propagate_k, eval.propagate_draws, eval.split, eval.val_per_class.
  static EvalOptions from_config(const Config& cfg);
  /// Throws naming the first option out of range or an unknown protocol.
  void check() const;
};

/// What the protocols fit on and score: train / test, or with split "val" the training set minus
/// a stratified validation split (drawn from `seed`) / that split.
data::DataSplits scored_split(const data::DataSplits& data, const EvalOptions& options, uint64_t seed);

/// Mean and sample standard deviation of a few figures (label draws, seeds).
struct Spread {
  double mean = 0, std = 0;
};
Spread spread(const std::vector<double>& values);

using Encode = std::function<torch::Tensor(const torch::Tensor&)>;

/// Runs every protocol of `options` on `encode`'s features of `scored` (normalised by `norm`):
/// {knn_acc, linear_acc, linear_val_acc, linear_l2, finetune_acc, propagate_acc, ...} with their
/// seconds. Fine-tuning needs `encoder` (not raw pixels). Seeds derive from `seed`.
nlohmann::json run_protocols(const Encode& encode, const data::DataSplits& scored, const train::Normalization& norm,
                             torch::Device device, const EvalOptions& options, uint64_t seed,
                             const nets::Backbone& encoder = nullptr);

}  // namespace selfsup::eval
