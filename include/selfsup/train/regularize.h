#pragma once
// The `regularize:` list of a training config: weight penalties added to the method's loss
// (losses/regularizers.h), each on the layers a name pattern picks, and the thresholding that
// sets groups below a norm to exactly zero after every optimizer step.
//
//   regularize:
//     - type: group_lasso        # l1 | l2 | group_lasso
//       group: filters           # group_lasso: kernels | channels | filters | rows | cols | layer
//       strength: 0.0008         # >= 0
//       layers: "*"              # glob on layer names; absent: every convolution
//       threshold: 0.001         # group_lasso: zero every group whose norm is below it (0: off)
//       batchnorm: true          # group filters: each filter's group also holds the weight and
//                                # bias of the batch norm after the convolution (default true)
//
// A layer is a module with a `weight` of at least 2 dimensions that the optimizer trains, named
// as in the checkpoint without ".weight" (backbone.features.0, classifier.fc, ...). Several
// items give several strengths; a layer two items pick pays both.
//
// Why the batch norm joins the filter's group: a convolution followed by batch norm computes the
// same function at any scale of a filter, so a penalty on the filter alone shrinks every filter
// alike without choosing any, and a zeroed filter still passes the batch norm's bias on. With the
// batch norm's weight and bias in the group, the penalty weighs what the channel contributes, and
// a group at zero is a channel that is exactly zero after the batch norm and ReLU, which thinning
// (nets/thin.h) removes without changing the outputs. The batch norm is the one registered right
// after the convolution, with one entry per filter.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/losses/regularizers.h"
#include "selfsup/train/hooks.h"

namespace selfsup::train {

enum class Penalty { L1, L2, GroupLasso };

/// One item of the `regularize:` list.
struct RegularizerSpec {
  Penalty type = Penalty::GroupLasso;
  losses::Group group = losses::Group::Filters;
  double strength = 0;
  std::string layers;      // a glob ('*' any run of characters, '?' one); empty: every convolution
  double threshold = 0;    // group_lasso only
  bool batchnorm = true;   // group_lasso over filters: the batch norm after each picked conv joins the group
};

/// The items of `regularize` (absent: none). Every item's keys are checked: an unknown key,
/// type or group, a negative strength or threshold, or a key that does not apply to the type is
/// an error naming the item, e.g. "regularize[1].strength must be a finite number >= 0, got -1".
std::vector<RegularizerSpec> regularizers_from_config(const Config& cfg);

/// Whether `name` matches the glob `pattern` ('*' any run of characters, '?' any one).
bool glob_match(const std::string& pattern, const std::string& name);

/// Adds the penalties' gradients before each optimizer step (and their value to the step's
/// metrics as "reg_penalty"), and zeroes the groups below each threshold after it.
class Regularization : public TrainHook {
 public:
  /// Resolves each spec's pattern on `model`'s layers; a pattern that picks no layer is an error
  /// listing the layers there are.
  Regularization(std::vector<RegularizerSpec> specs, torch::nn::Module& model);

  /// The sum of the penalties, differentiable in the weights.
  torch::Tensor penalty() const;
  /// Zeroes every group below its item's threshold; returns how many groups are zero.
  int64_t apply_thresholds();

  void before_optimizer_step(LoopState& s, methods::StepOutput& out) override;
  void after_step(LoopState& s) override { apply_thresholds(); }

  struct Term {
    RegularizerSpec spec;
    std::vector<std::pair<std::string, torch::Tensor>> layers;  // name, weight
    /// Per layer, the tensors of its filters' joint groups: the weight and, when it joins, the
    /// batch norm's weight and bias (group_lasso over filters; empty otherwise).
    std::vector<std::vector<torch::Tensor>> joint;
  };
  const std::vector<Term>& terms() const { return terms_; }

 private:
  std::vector<Term> terms_;
};

/// A Regularization for `model` from `regularize`, or nullptr when the config has none.
std::unique_ptr<Regularization> regularization_from_config(const Config& cfg, torch::nn::Module& model);

}  // namespace selfsup::train
