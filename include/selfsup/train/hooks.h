#pragma once
// The small objects the training loop calls at fixed points, one job each (USB's hooks): fitting
// the schedule to a time budget, the progress line and metrics, the checkpoint policy, the stop
// agreed by every rank, and the guard against a non-finite loss.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <string>

#include "selfsup/methods/method.h"
#include "selfsup/train/optim.h"
#include "selfsup/train/run_dir.h"

namespace selfsup::train {

using Clock = std::chrono::steady_clock;

/// What the loop knows, shared with its hooks.
struct LoopState {
  int64_t step = 0;             // optimizer steps completed
  int64_t total = 0;            // the schedule's length (a time budget may refit it)
  int64_t planned = 0;          // the length the config asks for
  int64_t first_step = 0;       // where this process started (> 0 when resumed)
  int64_t steps_per_epoch = 1;
  double prior_seconds = 0;     // training time of the processes before a resume
  Clock::time_point start;      // when this process started training
  double loss = 0;              // the last step's loss, the mean over ranks
  const methods::StepOutput* out = nullptr;  // the last step's output (its metrics)
  int64_t batch_images = 0;     // images in the last global batch
  int64_t images = 0;           // images this process has trained on
  double lr = 0;                // the last step's learning rate
  bool stopped_early = false;   // by the time limit or a signal

  double run_seconds() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
  /// Training time so far, across resumes.
  double seconds() const { return prior_seconds + run_seconds(); }
};

class TrainHook {
 public:
  virtual ~TrainHook() = default;
  virtual void before_run(LoopState&) {}
  /// After backward and the gradient averaging, before clipping and the optimizer step: a hook
  /// may add to the gradients (a regularizer's penalty) and to the step's metrics.
  virtual void before_optimizer_step(LoopState&, methods::StepOutput&) {}
  /// After each optimizer step and the method's own after_optimizer_step.
  virtual void after_step(LoopState&) {}
  /// After the last step, when the loop ends without an error.
  virtual void after_run(LoopState&) {}
};

/// Calls a function after every step (tests, callers' logging).
class StepCallbackHook : public TrainHook {
 public:
  using Fn = std::function<void(int64_t step, double loss, const methods::StepOutput&)>;
  explicit StepCallbackHook(Fn fn) : fn_(std::move(fn)) {}
  void after_step(LoopState& s) override { fn_(s.step, s.loss, *s.out); }

 private:
  Fn fn_;
};

/// With a time limit, sets the schedule's length so that the cosine decay ends when time runs out
/// instead of being cut off at a high learning rate: a first fit from the speed of steps 10..40
/// (past the allocator's and caches' warm-up), then a refit from each later window of
/// `window_seconds`, so a run whose speed changes (a shared machine, thermal limits) still ends
/// its schedule at the limit instead of being cut mid-cosine or idling early. No refits in the
/// last 5% of the budget, so the tail of the schedule stays smooth.
class TimeBudget : public TrainHook {
 public:
  TimeBudget(double time_limit, double window_seconds, bool announce)
      : limit_(time_limit), window_(window_seconds), announce_(announce) {}
  void after_step(LoopState& s) override;

 private:
  double limit_, window_;
  bool announce_;
  bool fitted_ = false;
  int64_t probe_step_ = -1;
  Clock::time_point probe_time_;
};

/// The progress line (redrawn on a terminal, one line per log step otherwise) and one metrics
/// line per `every` steps into the run folder: the window's mean loss, lr, speed and the method's
/// own metrics.
class ProgressLog : public TrainHook {
 public:
  ProgressLog(RunDir& dir, int64_t every, bool progress);
  void before_run(LoopState& s) override;
  void after_step(LoopState& s) override;
  void after_run(LoopState& s) override;

 private:
  RunDir& dir_;
  int64_t every_;
  bool main_, tty_;
  Clock::time_point window_start_;
  int64_t window_images_ = 0, window_steps_ = 0;
  double loss_sum_ = 0;
};

/// Calls a function every `every` steps (0: never) and when the loop ends: the checkpoint, a
/// run's picture.
class PeriodicHook : public TrainHook {
 public:
  using Fn = std::function<void(const LoopState&)>;
  PeriodicHook(int64_t every, Fn fn) : every_(every), fn_(std::move(fn)) {}
  void after_step(LoopState& s) override {
    if (every_ > 0 && s.step % every_ == 0) fn_(s);
  }
  void after_run(LoopState& s) override { fn_(s); }

 private:
  int64_t every_;
  Fn fn_;
};

/// Whether the loop stops before the next step: its schedule is done, time is out, or a signal
/// asked. With several ranks they agree (any rank out of time or asked stops them all) and
/// follow rank 0's schedule length, fitted to its clock, so they take the same steps.
class StopRule {
 public:
  explicit StopRule(double time_limit) : limit_(time_limit) {}
  bool stop_now(LoopState& s) const;

 private:
  double limit_;
};

/// Stops the run on a NaN or infinite loss, or on weights that became non-finite, with one line
/// naming the step, the epoch and the last good checkpoint (never overwritten by a bad state).
class NanGuard {
 public:
  explicit NanGuard(const RunDir& dir) : dir_(dir) {}
  void check(double loss, const LoopState& s) const;
  void check_weights(torch::nn::Module& model, torch::optim::Optimizer* optimizer, const LoopState& s) const;

 private:
  [[noreturn]] void stop(const std::string& what, const LoopState& s) const;
  const RunDir& dir_;
};

/// Installs SIGINT/SIGTERM handlers that ask running trainers to stop cleanly (checkpoint, then
/// return) instead of dying mid-step, and the evaluation to stop within a second.
void install_stop_handlers();  // also clears an earlier stop request
bool stop_requested();
/// The signal that asked to stop (SIGINT, SIGTERM), 0 when none did.
int stop_signal();
/// Throws "stopped by SIGINT during <during>" when a signal asked to stop: long loops outside
/// the trainer (the evaluation) call it between their steps.
void throw_if_stop_requested(const char* during);

}  // namespace selfsup::train
