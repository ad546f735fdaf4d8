#include "selfsup/train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/train/precision.h"

namespace selfsup::train {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h";
  o << std::setw(t >= 3600 ? 2 : 1) << std::setfill('0') << (t % 3600) / 60 << "m" << std::setw(2) << t % 60 << "s";
  return o.str();
}

}  // namespace

void install_stop_handlers() {
  g_stop.store(false);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool stop_requested() { return g_stop.load(); }

TrainerOptions TrainerOptions::from_config(const Config& cfg) {
  TrainerOptions o;
  o.epochs(cfg.get<int64_t>("train.epochs", o.epochs()));
  o.max_steps(cfg.get<int64_t>("train.max_steps", o.max_steps()));
  o.warmup_epochs(cfg.get<double>("train.warmup_epochs", o.warmup_epochs()));
  o.warmup_start_factor(cfg.get<double>("train.warmup_start_factor", o.warmup_start_factor()));
  o.min_lr_factor(cfg.get<double>("train.min_lr_factor", o.min_lr_factor()));
  o.grad_clip(cfg.get<double>("train.grad_clip", o.grad_clip()));
  o.checkpoint_every_steps(cfg.get<int64_t>("train.checkpoint_every_steps", o.checkpoint_every_steps()));
  o.log_every_steps(cfg.get<int64_t>("train.log_every_steps", o.log_every_steps()));
  o.fit_schedule_to_time(cfg.get<bool>("train.fit_schedule_to_time", o.fit_schedule_to_time()));
  o.precision(cfg.get<std::string>("precision", o.precision()));
  TORCH_CHECK(o.epochs() > 0 || o.max_steps() > 0, "train.epochs must be positive, got ", o.epochs());
  TORCH_CHECK(o.max_steps() >= 0, "train.max_steps must be >= 0, got ", o.max_steps());
  TORCH_CHECK(o.warmup_epochs() >= 0, "train.warmup_epochs must be >= 0, got ", o.warmup_epochs());
  TORCH_CHECK(o.grad_clip() >= 0, "train.grad_clip must be >= 0, got ", o.grad_clip());
  TORCH_CHECK(o.log_every_steps() > 0, "train.log_every_steps must be positive, got ", o.log_every_steps());
  TORCH_CHECK(o.precision() == "fp32" || o.precision() == "bf16", "precision must be fp32 or bf16, got '",
              o.precision(), "'");
  return o;
}

Trainer::Trainer(const Config& cfg, methods::Method method, BatchSource& loader, TrainerOptions options)
    : cfg_(cfg), method_(std::move(method)), loader_(loader), options_(std::move(options)) {
  // Fine-tuning a pretrained encoder (semi --init) may train it slower than the new head.
  const double encoder_scale = cfg.get<double>("train.backbone_lr_scale", 1.0);
  optimizer_ = std::make_unique<Optimizer>(
      method_->parameters(), OptimizerOptions::from_config(cfg),
      encoder_scale != 1.0 ? method_->encoder()->parameters() : std::vector<torch::Tensor>{}, encoder_scale);
}

std::string Trainer::checkpoint_path() const {
  return (std::filesystem::path(options_.out_dir()) / "last.ckpt").string();
}

void Trainer::save(int64_t step, int64_t total, double seconds) {
  if (options_.out_dir().empty() || !dist::is_main()) return;  // the ranks' states are identical
  CheckpointState s{step, total, seconds, cfg_.dump()};
  save_checkpoint(checkpoint_path(), *method_, &optimizer_->impl(), s);
}

TrainResult Trainer::fit() {
  const int64_t spe = loader_.steps_per_epoch();
  TORCH_CHECK(spe > 0, "an epoch has no batches (training set ", loader_.dataset_size(), " images)");
  int64_t total = options_.max_steps() > 0 ? options_.max_steps() : options_.epochs() * spe;
  int64_t step = 0;
  double prior_seconds = 0;
  if (options_.resume()) {
    auto s = load_checkpoint(checkpoint_path(), *method_, &optimizer_->impl());
    step = s.step;
    total = s.total_steps;
    prior_seconds = s.train_seconds;
    if (dist::is_main()) {
      std::cerr << "resuming from " << checkpoint_path() << " at step " << step << " of " << total << "\n";
    }
  }
  // Every rank starts from rank 0's weights (the same seed gives the same ones; this makes sure).
  dist::broadcast_module(*method_);
  const int64_t planned = options_.max_steps() > 0 ? options_.max_steps() : options_.epochs() * spe;
  const int64_t first_step = step;
  bool fitted_once = false;
  WarmupCosine sched{static_cast<int64_t>(std::llround(options_.warmup_epochs() * spe)), total,
                     options_.warmup_start_factor(), options_.min_lr_factor()};

  std::ofstream metrics;
  if (!options_.out_dir().empty() && dist::is_main()) {
    std::filesystem::create_directories(options_.out_dir());
    metrics.open((std::filesystem::path(options_.out_dir()) / "metrics.jsonl").string(), std::ios::app);
  }
  const bool main_rank = dist::is_main();
  const bool tty = main_rank && options_.progress() && ::isatty(STDERR_FILENO);
  const auto params = method_->parameters();
  bool bf16 = options_.precision() == "bf16";
  if (bf16 && !params.empty() && params.front().device().is_cpu() && !cpu_has_native_bf16()) {
    // Emulated bf16 made a SimCLR step 15 s instead of 0.35 s in fp32 on an AVX2-only EPYC.
    if (main_rank) {
      std::cerr << "warning: precision bf16 asked, but this CPU has no native bf16 (avx512_bf16 / amx_bf16): "
                   "training in fp32\n";
    }
    bf16 = false;
  }
  method_->train();
  const auto start = Clock::now();
  auto window_start = start;
  int64_t window_images = 0, window_steps = 0, images = 0;
  double loss_sum = 0, last_loss = 0;
  int64_t fit_probe_step = -1;
  Clock::time_point fit_probe_time;
  TrainResult result;

  for (;;) {
    const double elapsed = prior_seconds + seconds_since(start);
    bool out_of_time = options_.time_limit() > 0 && elapsed >= options_.time_limit();
    bool stop = stop_requested();
    if (dist::is_distributed()) {
      // The ranks must take the same number of steps: they stop when any rank is out of time
      // or asked to stop, and follow rank 0's schedule length (fitted to its clock).
      auto agree = torch::tensor({out_of_time ? 1.0 : 0.0, stop ? 1.0 : 0.0,
                                  main_rank ? static_cast<double>(total) : 0.0}, torch::kFloat64);
      dist::all_reduce_sum_(agree);
      out_of_time = agree[0].item<double>() > 0;
      stop = agree[1].item<double>() > 0;
      total = static_cast<int64_t>(agree[2].item<double>());
      sched.total_steps = total;
    }
    if (step >= total) break;
    if (out_of_time) {
      result.stopped_early = true;
      break;
    }
    if (stop) {
      result.stopped_early = true;
      if (main_rank) std::cerr << "\nstop requested: saving a checkpoint at step " << step << "\n";
      break;
    }
    optimizer_->set_lr_factor(sched.factor(step));
    auto batch = loader_.get(step);
    optimizer_->zero_grad();
    methods::StepOutput out;
    {
      AutocastScope autocast(bf16, batch.views.front().device().type());
      out = method_->training_step(batch);
    }
    out.loss = out.loss.to(torch::kFloat32);
    double loss = out.loss.item<double>();
    if (dist::is_distributed()) {
      // The mean over ranks: what is logged, and a NaN on any rank stops every rank together.
      auto l = torch::tensor({loss}, torch::kFloat64);
      dist::all_reduce_sum_(l);
      loss = l.item<double>() / dist::world_size();
    }
    if (!std::isfinite(loss)) {
      std::ostringstream msg;
      msg << "loss is " << (std::isnan(loss) ? "NaN" : "infinite") << " at step " << step + 1 << " (epoch "
          << step / spe + 1 << ")";
      if (!options_.out_dir().empty() && std::filesystem::exists(checkpoint_path())) {
        msg << "; the last good checkpoint is " << checkpoint_path();
      }
      msg << "; lower train.lr or check the data";
      TORCH_CHECK(false, msg.str());
    }
    out.loss.backward();
    dist::average_gradients(params);
    if (options_.grad_clip() > 0) torch::nn::utils::clip_grad_norm_(params, options_.grad_clip());
    optimizer_->step();
    ++step;
    method_->after_optimizer_step(step, total);
    if (on_step_) on_step_(step, loss, out);

    const int64_t b = batch.views.front().size(0) * dist::world_size();  // the global batch
    images += b;
    window_images += b;
    ++window_steps;
    loss_sum += loss;
    last_loss = loss;

    // Fit the cosine schedule to the time limit: a first fit from the speed of steps 10..40
    // (past the allocator's and caches' warm-up), then a refit from each later window of fit_window_seconds (30 s), so a
    // run whose speed changes (a shared machine, thermal limits) still ends its schedule at the
    // limit instead of being cut mid-cosine or idling early. No refits in the last 5% of the
    // budget, so the tail of the schedule stays smooth.
    if (options_.time_limit() > 0 && options_.fit_schedule_to_time()) {
      if (fit_probe_step < 0 && step >= first_step + 10) {
        fit_probe_step = step;
        fit_probe_time = Clock::now();
      } else if (fit_probe_step >= 0 && step - fit_probe_step >= 30 &&
                 (!fitted_once || seconds_since(fit_probe_time) >= options_.fit_window_seconds())) {
        const double per_step = seconds_since(fit_probe_time) / static_cast<double>(step - fit_probe_step);
        const double left = options_.time_limit() - (prior_seconds + seconds_since(start));
        if (left > 0.05 * options_.time_limit()) {
          const int64_t fit = std::max(step + 1, std::min(planned, step + static_cast<int64_t>(0.98 * left / per_step)));
          if (main_rank && (!fitted_once || std::llabs(fit - total) * 100 > total)) {
            std::cerr << (tty ? "\n" : "") << "time limit: schedule fitted to " << fit << " steps ("
                      << std::fixed << std::setprecision(3) << per_step << " s/step)\n";
          }
          total = fit;
          sched.total_steps = total;
          fitted_once = true;
        }
        fit_probe_step = step;
        fit_probe_time = Clock::now();
      }
    }

    const bool log_now = step % options_.log_every_steps() == 0 || step == total;
    if (log_now || tty) {
      const double win = seconds_since(window_start);
      const double ips = win > 0 ? window_images / win : 0;
      const double run_s = seconds_since(start);
      const double eta = (total - step) * (run_s / std::max<int64_t>(1, images / std::max<int64_t>(1, b)));
      std::ostringstream line;
      line << "epoch " << step / spe + (step % spe ? 1 : 0) << " step " << step << "/" << total << " loss "
           << std::fixed << std::setprecision(4) << loss << " lr " << std::setprecision(5) << optimizer_->lr()
           << " " << std::setprecision(0) << ips << " img/s ETA " << format_duration(eta);
      if (tty) {
        std::cerr << "\r\033[K" << line.str() << std::flush;
      } else if (log_now && main_rank) {
        std::cerr << line.str() << "\n";
      }
      if (log_now) {
        nlohmann::json j;
        j["step"] = step;
        j["epoch"] = static_cast<double>(step) / spe;
        j["loss"] = loss_sum / std::max<int64_t>(1, window_steps);
        j["lr"] = optimizer_->lr();
        j["images_per_second"] = ips;
        j["seconds"] = prior_seconds + run_s;
        for (const auto& kv : out.metrics) j[kv.first] = kv.second;
        if (metrics.is_open()) metrics << j.dump() << "\n" << std::flush;
        window_start = Clock::now();
        window_images = 0;
        window_steps = 0;
        loss_sum = 0;
      }
    }
    if (options_.checkpoint_every_steps() > 0 && step % options_.checkpoint_every_steps() == 0) {
      save(step, total, prior_seconds + seconds_since(start));
    }
  }
  if (tty) std::cerr << "\n";
  result.steps = step;
  result.total_steps = total;
  const double run_s = seconds_since(start);
  result.train_seconds = prior_seconds + run_s;
  result.images_per_second = run_s > 0 ? images / run_s : 0;
  result.last_loss = last_loss;
  save(step, total, result.train_seconds);
  return result;
}

}  // namespace selfsup::train
