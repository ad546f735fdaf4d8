#pragma once
// Optimizers and the learning-rate schedule shared by every training command.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "selfsup/core/config.h"

namespace selfsup::train {

struct OptimizerOptions {
  TORCH_ARG(std::string, name) = "sgd";  // sgd | adamw | lars
  TORCH_ARG(double, lr) = 0.1;
  TORCH_ARG(double, weight_decay) = 5e-4;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(bool, nesterov) = false;
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  /// LARS trust coefficient and whether biases / norm parameters skip adaptation and decay.
  TORCH_ARG(double, eta) = 0.02;
  TORCH_ARG(bool, exclude_bias_and_norm) = true;
  TORCH_ARG(bool, clip_lr) = true;

  // TORCH_ARG leaves the struct in a private section.
 public:
  /// Reads train.optimizer, train.lr, train.weight_decay, train.momentum, train.nesterov,
  /// train.betas, train.lars_eta, train.exclude_bias_and_norm.
  static OptimizerOptions from_config(const Config& cfg);
};

/// An optimizer over a module's trainable parameters. Parameters of rank <= 1 (biases, norm
/// scales) form their own group without weight decay, as solo-learn does. LARS (You et al. 2017,
/// solo-learn's variant) rescales each adapted gradient by eta ||w|| / (||g|| + wd ||w||) before an
/// SGD momentum step, so its state is plain SGD state and checkpoints like it.
class Optimizer {
 public:
  /// Parameters listed in `lr_scales` train at their scale times the learning rate (a pretrained
  /// encoder fine-tuned slower than its new head, a ViT's layer-wise decay); each scale other than
  /// 1 gets its own pair of groups after the two above.
  using LrScales = std::vector<std::pair<torch::Tensor, double>>;
  Optimizer(const std::vector<torch::Tensor>& params, const OptimizerOptions& options, const LrScales& lr_scales = {});
  /// Sets every group's lr to base lr * factor (the schedule's multiplier), times the group's
  /// scale.
  void set_lr_factor(double factor);
  double lr() const;
  void zero_grad();
  void step();
  torch::optim::Optimizer& impl() { return *impl_; }
  const OptimizerOptions& options() const { return options_; }

 private:
  void lars_adapt();
  OptimizerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> impl_;
  std::vector<torch::Tensor> adapted_;  // parameters LARS adapts and decays (rank >= 2)
  std::vector<double> scales_;          // per param group, in impl_'s order
  double factor_ = 1.0;
};

/// Linear warm-up from `start_factor` to 1 over `warmup_steps`, then cosine decay to
/// `min_factor` at `total_steps`.
struct WarmupCosine {
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double start_factor = 0.0;
  double min_factor = 0.0;
  double factor(int64_t step) const;
};

}  // namespace selfsup::train
