#pragma once
// The training loop every method shares: schedule, optimizer step, method hooks, checkpoints,
// time limit, NaN guard, progress and metrics. Methods never see any of it.
#include <torch/torch.h>

#include <functional>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/methods/method.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/loader.h"
#include "selfsup/train/optim.h"

namespace selfsup::train {

struct TrainerOptions {
  TORCH_ARG(int64_t, epochs) = 1;
  TORCH_ARG(int64_t, max_steps) = 0;            // > 0 overrides epochs
  TORCH_ARG(double, time_limit) = 0;            // seconds of training, 0 = none
  /// With a time limit, measure the step time and set the schedule's length so that the cosine
  /// decay ends when time runs out instead of being cut off at a high learning rate; refitted
  /// from each window of `fit_window_seconds` as the speed changes.
  TORCH_ARG(bool, fit_schedule_to_time) = true;
  TORCH_ARG(double, fit_window_seconds) = 30;
  TORCH_ARG(double, warmup_epochs) = 0;
  TORCH_ARG(double, warmup_start_factor) = 0.0;
  TORCH_ARG(double, min_lr_factor) = 0.0;
  TORCH_ARG(double, grad_clip) = 0;             // max global gradient norm, 0 = off
  TORCH_ARG(int64_t, checkpoint_every_steps) = 0;
  TORCH_ARG(int64_t, log_every_steps) = 50;
  TORCH_ARG(std::string, out_dir) = "";
  TORCH_ARG(bool, resume) = false;
  TORCH_ARG(bool, progress) = true;
  TORCH_ARG(std::string, precision) = "fp32";   // fp32 | bf16

  // TORCH_ARG leaves the struct in a private section.
 public:
  /// Reads train.epochs, train.max_steps, train.warmup_epochs, train.grad_clip,
  /// train.checkpoint_every_steps, train.log_every_steps, train.fit_schedule_to_time, precision.
  static TrainerOptions from_config(const Config& cfg);
};

struct TrainResult {
  int64_t steps = 0;
  int64_t total_steps = 0;
  double train_seconds = 0;
  double images_per_second = 0;
  bool stopped_early = false;  // by the time limit or a signal
  double last_loss = 0;
};

class Trainer {
 public:
  Trainer(const Config& cfg, methods::Method method, BatchSource& loader, TrainerOptions options);
  TrainResult fit();
  Optimizer& optimizer() { return *optimizer_; }
  /// Called after every optimizer step (and the method's hook) with the step and its output.
  using StepCallback = std::function<void(int64_t step, double loss, const methods::StepOutput&)>;
  void on_step(StepCallback cb) { on_step_ = std::move(cb); }
  std::string checkpoint_path() const;

 private:
  void save(int64_t step, int64_t total, double seconds);
  Config cfg_;  // a copy: the trainer may outlive the caller's config
  methods::Method method_;
  BatchSource& loader_;
  TrainerOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  StepCallback on_step_;
};

/// Installs SIGINT/SIGTERM handlers that ask running trainers to stop cleanly (checkpoint, then
/// return) instead of dying mid-step.
void install_stop_handlers();  // also clears an earlier stop request
bool stop_requested();

}  // namespace selfsup::train
