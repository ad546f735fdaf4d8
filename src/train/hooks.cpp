#include "selfsup/train/hooks.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/core/progress.h"
#include "selfsup/dist/dist.h"

namespace selfsup::train {
namespace {

std::atomic<int> g_stop{0};
void on_signal(int sig) { g_stop.store(sig); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

void install_stop_handlers() {
  g_stop.store(0);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool stop_requested() { return g_stop.load() != 0; }
int stop_signal() { return g_stop.load(); }

void throw_if_stop_requested(const char* during) {
  const int sig = stop_signal();
  TORCH_CHECK(sig == 0, "stopped by ", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", " during ",
              during);
}

void TimeBudget::after_step(LoopState& s) {
  if (probe_step_ < 0) {
    if (s.step >= s.first_step + 10) {
      probe_step_ = s.step;
      probe_time_ = Clock::now();
    }
    return;
  }
  if (s.step - probe_step_ < 30 || (fitted_ && seconds_since(probe_time_) < window_)) return;
  const double per_step = seconds_since(probe_time_) / static_cast<double>(s.step - probe_step_);
  const double left = limit_ - s.seconds();
  if (left > 0.05 * limit_) {
    // In floating point first: a time limit of years over a fast step would overflow int64.
    const double steps_left = std::min(0.98 * left / per_step, static_cast<double>(s.planned - s.step));
    const int64_t fit = std::max(s.step + 1, s.step + static_cast<int64_t>(steps_left));
    if (announce_ && dist::is_main() && (!fitted_ || std::llabs(fit - s.total) * 100 > s.total)) {
      std::cerr << (::isatty(STDERR_FILENO) ? "\n" : "") << "time limit: schedule fitted to " << fit << " steps (" << std::fixed << std::setprecision(3)
                << per_step << " s/step)\n";
    }
    s.total = fit;
    fitted_ = true;
  }
  probe_step_ = s.step;
  probe_time_ = Clock::now();
}

ProgressLog::ProgressLog(RunDir& dir, int64_t every, bool progress)
    : dir_(dir), every_(every), main_(dist::is_main()), tty_(main_ && progress && ::isatty(STDERR_FILENO)) {}

void ProgressLog::before_run(LoopState&) { window_start_ = Clock::now(); }

void ProgressLog::after_step(LoopState& s) {
  window_images_ += s.batch_images;
  ++window_steps_;
  loss_sum_ += s.loss;
  const bool log_now = s.step % every_ == 0 || s.step == s.total;
  if (!log_now && !tty_) return;
  const double win = seconds_since(window_start_);
  const double ips = win > 0 ? window_images_ / win : 0;
  const double per_step = s.run_seconds() / static_cast<double>(std::max<int64_t>(1, s.step - s.first_step));
  const int64_t spe = s.steps_per_epoch;
  std::ostringstream line;
  line << "epoch " << s.step / spe + (s.step % spe ? 1 : 0) << " step " << s.step << "/" << s.total << " loss "
       << std::fixed << std::setprecision(4) << s.loss << " lr " << std::setprecision(5) << s.lr << " "
       << std::setprecision(0) << ips << " img/s ETA " << format_duration((s.total - s.step) * per_step);
  if (tty_) {
    std::cerr << "\r\033[K" << line.str() << std::flush;
  } else if (main_) {
    std::cerr << line.str() << "\n";
  }
  if (!log_now) return;
  nlohmann::json j;
  j["step"] = s.step;
  j["epoch"] = static_cast<double>(s.step) / spe;
  j["loss"] = loss_sum_ / static_cast<double>(std::max<int64_t>(1, window_steps_));
  j["lr"] = s.lr;
  j["images_per_second"] = ips;
  j["seconds"] = s.seconds();
  for (const auto& kv : s.out->metrics) j[kv.first] = kv.second;
  dir_.append_metrics(j);
  window_start_ = Clock::now();
  window_images_ = 0;
  window_steps_ = 0;
  loss_sum_ = 0;
}

void ProgressLog::after_run(LoopState&) {
  if (tty_) std::cerr << "\n";
}

bool StopRule::stop_now(LoopState& s) const {
  bool out_of_time = limit_ > 0 && s.seconds() >= limit_;
  bool stop = stop_requested();
  if (dist::is_distributed()) {
    auto agree = torch::tensor(
        {out_of_time ? 1.0 : 0.0, stop ? 1.0 : 0.0, dist::is_main() ? static_cast<double>(s.total) : 0.0},
        torch::kFloat64);
    dist::all_reduce_sum_(agree);
    out_of_time = agree[0].item<double>() > 0;
    stop = agree[1].item<double>() > 0;
    s.total = static_cast<int64_t>(agree[2].item<double>());
  }
  if (s.step >= s.total) return true;
  if (stop && dist::is_main()) std::cerr << "\nstop requested: saving a checkpoint at step " << s.step << "\n";
  s.stopped_early = out_of_time || stop;
  return s.stopped_early;
}

void NanGuard::check(double loss, const LoopState& s) const {
  if (std::isfinite(loss)) return;
  std::ostringstream what;
  what << "loss is " << (std::isnan(loss) ? "NaN" : "infinite") << " at step " << s.step + 1 << " (epoch "
       << s.step / s.steps_per_epoch + 1 << ")";
  stop(what.str(), s);
}

void NanGuard::check_weights(torch::nn::Module& model, torch::optim::Optimizer* optimizer, const LoopState& s) const {
  std::string where;
  if (all_finite(model, optimizer, &where)) return;
  std::ostringstream what;
  what << "weights are not finite (" << where << " holds a NaN or an infinity) at step " << s.step << " (epoch "
       << (s.step - 1) / s.steps_per_epoch + 1 << ")";
  stop(what.str(), s);
}

void NanGuard::stop(const std::string& what, const LoopState& s) const {
  std::ostringstream msg;
  msg << what;
  if (dir_.has_checkpoint()) {
    msg << "; the last good checkpoint is " << dir_.checkpoint_path() << " (step "
        << peek_checkpoint(dir_.checkpoint_path()).step << ")";
  }
  msg << "; lower train.lr or check the data";
  TORCH_CHECK(false, msg.str());
}

}  // namespace selfsup::train
