#pragma once
// The training loop every method shares: forward, backward, gradient averaging across ranks and
// the optimizer step, with the schedule, logging, checkpoints, time budget, stop agreement and
// NaN guard in small hooks (train/hooks.h). Methods never see any of it.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/methods/method.h"
#include "selfsup/train/hooks.h"
#include "selfsup/train/loader.h"
#include "selfsup/train/optim.h"
#include "selfsup/train/precision.h"
#include "selfsup/train/run_dir.h"

namespace selfsup::train {

struct TrainerOptions {
  TORCH_ARG(int64_t, epochs) = 1;
  TORCH_ARG(int64_t, max_steps) = 0;            // > 0 overrides epochs
  TORCH_ARG(double, time_limit) = 0;            // seconds of training, 0 = none
  /// With a time limit, fit the schedule's length to it (TimeBudget), refitted from each window
  /// of `fit_window_seconds` as the speed changes.
  TORCH_ARG(bool, fit_schedule_to_time) = true;
  TORCH_ARG(double, fit_window_seconds) = 30;
  TORCH_ARG(double, warmup_epochs) = 0;
  TORCH_ARG(double, warmup_start_factor) = 0.0;
  TORCH_ARG(double, min_lr_factor) = 0.0;
  TORCH_ARG(double, grad_clip) = 0;             // max global gradient norm, 0 = off
  TORCH_ARG(int64_t, checkpoint_every_steps) = 0;
  TORCH_ARG(int64_t, log_every_steps) = 50;
  TORCH_ARG(bool, progress) = true;
  TORCH_ARG(std::string, precision) = "fp32";   // fp32 | bf16 | auto (train/precision.h)
  TORCH_ARG(int64_t, precision_probe_steps) = 80;  // the most timed steps per precision under auto
  TORCH_ARG(int64_t, precision_probe_min_steps) = 500;  // shorter runs take fp32 without probing
  // The precisions auto chooses from; empty: those the device computes natively.
  TORCH_ARG(std::vector<std::string>, precision_candidates) = {};

  // TORCH_ARG leaves the struct in a private section.
 public:
  /// Reads train.epochs, train.max_steps, train.warmup_epochs, train.warmup_start_factor,
  /// train.min_lr_factor, train.grad_clip, train.checkpoint_every_steps, train.log_every_steps,
  /// train.fit_schedule_to_time, precision, train.precision_probe_steps,
  /// train.precision_probe_min_steps.
  static TrainerOptions from_config(const Config& cfg);
};

struct TrainResult {
  int64_t steps = 0;
  int64_t total_steps = 0;
  double train_seconds = 0;
  double images_per_second = 0;
  bool stopped_early = false;  // by the time limit or a signal
  double last_loss = 0;
  PrecisionChoice precision = {};
};

class Trainer {
 public:
  /// Trains `method` on `loader`'s batches, writing metrics and checkpoints into `dir` (which
  /// outlives the trainer; an empty RunDir writes nothing) and resuming from it when it resumes.
  Trainer(const Config& cfg, methods::Method method, BatchSource& loader, TrainerOptions options, RunDir& dir);
  /// Without a folder: nothing is written, nothing resumed.
  Trainer(const Config& cfg, methods::Method method, BatchSource& loader, TrainerOptions options)
      : Trainer(cfg, std::move(method), loader, std::move(options), no_dir_) {}
  TrainResult fit();
  Optimizer& optimizer() { return *optimizer_; }
  /// Adds a hook, called after those before it.
  void add_hook(std::unique_ptr<TrainHook> hook) { hooks_.push_back(std::move(hook)); }
  /// Calls `cb` after every optimizer step (and the method's hook), before the built-in hooks.
  void on_step(StepCallbackHook::Fn cb) {
    hooks_.insert(hooks_.begin(), std::make_unique<StepCallbackHook>(std::move(cb)));
  }

 private:
  /// The learning-rate scales of the encoder's parameters: train.backbone_lr_scale, and
  /// train.layer_decay for a ViT (nets/vit.h).
  Optimizer::LrScales encoder_lr_scales(const Config& cfg) const;
  LoopState begin();
  void step(LoopState& s);
  /// Settles the precision (train/precision.h): the config's, or under auto the cached or probed
  /// faster one, which is then written into the run's config so that a resume keeps it.
  void choose_precision(const LoopState& s);
  /// Times training steps in each candidate precision on the batches from step `s.step` on and
  /// returns images per second; the weights, buffers, gradients and random state are restored, so
  /// the run continues exactly as if it had started in the chosen precision.
  std::map<std::string, double> probe_precisions(const LoopState& s, const std::vector<std::string>& candidates);
  Config cfg_;  // a copy: the trainer may outlive the caller's config
  methods::Method method_;
  BatchSource& loader_;
  TrainerOptions options_;
  RunDir no_dir_;
  RunDir& dir_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<torch::Tensor> params_;
  WarmupCosine schedule_;
  methods::StepOutput step_output_;  // the last step's, which the hooks read
  bool bf16_ = false;
  PrecisionChoice precision_;
  StopRule stop_;
  NanGuard nan_guard_;
  std::vector<std::unique_ptr<TrainHook>> hooks_;
};

}  // namespace selfsup::train
