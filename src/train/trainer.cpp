#include "selfsup/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>

#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/nets/vit.h"
#include "selfsup/train/precision.h"

namespace selfsup::train {
namespace {

/// bf16 only where the CPU computes it natively: emulated by oneDNN it is tens of times slower
/// than fp32.
bool use_bf16(const std::string& precision, const std::vector<torch::Tensor>& params) {
  if (precision != "bf16") return false;
  if (params.empty() || !params.front().device().is_cpu() || cpu_has_native_bf16()) return true;
  if (dist::is_main()) {
    std::cerr << "warning: precision bf16 asked, but this CPU has no native bf16 (avx512_bf16 / amx_bf16): "
                 "training in fp32\n";
  }
  return false;
}

}  // namespace

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
  o.precision_probe_steps(cfg.get<int64_t>("train.precision_probe_steps", o.precision_probe_steps()));
  o.precision_probe_min_steps(cfg.get<int64_t>("train.precision_probe_min_steps", o.precision_probe_min_steps()));
  TORCH_CHECK(o.epochs() > 0 || o.max_steps() > 0, "train.epochs must be positive, got ", o.epochs());
  TORCH_CHECK(o.max_steps() >= 0, "train.max_steps must be >= 0, got ", o.max_steps());
  TORCH_CHECK(o.warmup_epochs() >= 0, "train.warmup_epochs must be >= 0, got ", o.warmup_epochs());
  TORCH_CHECK(o.grad_clip() >= 0, "train.grad_clip must be >= 0, got ", o.grad_clip());
  TORCH_CHECK(o.log_every_steps() > 0, "train.log_every_steps must be positive, got ", o.log_every_steps());
  TORCH_CHECK(o.precision() == "fp32" || o.precision() == "bf16" || o.precision() == "auto",
              "precision must be fp32, bf16 or auto, got '", o.precision(), "'");
  TORCH_CHECK(o.precision_probe_steps() > 0, "train.precision_probe_steps must be positive, got ",
              o.precision_probe_steps());
  return o;
}

Optimizer::LrScales Trainer::encoder_lr_scales(const Config& cfg) const {
  // Fine-tuning a pretrained encoder (semi --init) may train it slower than the new head, and a
  // ViT's blocks the slower the nearer the input (MAE's recipe).
  const double encoder_scale = cfg.get<double>("train.backbone_lr_scale", 1.0);
  const double layer_decay = cfg.get<double>("train.layer_decay", 1.0);
  TORCH_CHECK(std::isfinite(encoder_scale) && encoder_scale > 0, "train.backbone_lr_scale must be positive, got ",
              encoder_scale);
  TORCH_CHECK(std::isfinite(layer_decay) && layer_decay > 0 && layer_decay <= 1, "train.layer_decay must be in (0, 1], got ",
              layer_decay);
  Optimizer::LrScales scales;
  const auto encoder = method_->encoder();
  if (layer_decay != 1.0) {
    const auto* vit = dynamic_cast<const nets::ViTImpl*>(encoder.get());
    TORCH_CHECK(vit != nullptr, "train.layer_decay applies to a ViT encoder (model.backbone vit or vit_mini)");
    scales = nets::layer_decay_scales(*vit, layer_decay);
  } else if (encoder_scale != 1.0) {
    for (const auto& p : encoder->parameters()) scales.emplace_back(p, 1.0);
  }
  for (auto& entry : scales) entry.second *= encoder_scale;
  return scales;
}

Trainer::Trainer(const Config& cfg, methods::Method method, BatchSource& loader, TrainerOptions options, RunDir& dir)
    : cfg_(cfg),
      method_(std::move(method)),
      loader_(loader),
      options_(std::move(options)),
      dir_(dir),
      stop_(options_.time_limit()),
      nan_guard_(dir) {
  TORCH_CHECK(options_.time_limit() >= 0, "--time-limit must be >= 0, got ", options_.time_limit());
  optimizer_ = std::make_unique<Optimizer>(method_->parameters(), OptimizerOptions::from_config(cfg), encoder_lr_scales(cfg));
  params_ = method_->parameters();
  if (options_.time_limit() > 0 && options_.fit_schedule_to_time()) {
    add_hook(std::make_unique<TimeBudget>(options_.time_limit(), options_.fit_window_seconds(), options_.progress()));
  }
  add_hook(std::make_unique<ProgressLog>(dir_, options_.log_every_steps(), options_.progress()));
  add_hook(std::make_unique<PeriodicHook>(options_.checkpoint_every_steps(), [this](const LoopState& s) {
    if (dir_.empty()) return;
    nan_guard_.check_weights(*method_, &optimizer_->impl(), s);
    dir_.save_checkpoint(*method_, &optimizer_->impl(), CheckpointState{s.step, s.total, s.seconds(), cfg_.dump()});
  }));
}

LoopState Trainer::begin() {
  LoopState s;
  s.steps_per_epoch = loader_.steps_per_epoch();
  TORCH_CHECK(s.steps_per_epoch > 0, "an epoch has no batches (training set ", loader_.dataset_size(), " images)");
  TORCH_CHECK(options_.max_steps() > 0 || options_.epochs() <= std::numeric_limits<int64_t>::max() / s.steps_per_epoch,
              "train.epochs (", options_.epochs(), ") of ", s.steps_per_epoch,
              " steps each is more steps than can be counted; use train.max_steps or fewer epochs");
  s.planned = options_.max_steps() > 0 ? options_.max_steps() : options_.epochs() * s.steps_per_epoch;
  s.total = s.planned;
  if (dir_.resuming()) {
    const auto saved = dir_.load_checkpoint(*method_, &optimizer_->impl());
    s.step = s.first_step = saved.step;
    s.total = saved.total_steps;
    s.prior_seconds = saved.train_seconds;
    if (dist::is_main()) {
      std::cerr << "resuming from " << dir_.checkpoint_path() << " at step " << s.step << " of " << s.total << "\n";
    }
  }
  // Every rank starts from rank 0's weights (the same seed gives the same ones; this makes sure).
  dist::broadcast_module(*method_);
  schedule_ = WarmupCosine{static_cast<int64_t>(std::llround(options_.warmup_epochs() * s.steps_per_epoch)), s.total,
                           options_.warmup_start_factor(), options_.min_lr_factor()};
  method_->train();
  choose_precision(s);
  s.start = Clock::now();
  return s;
}

void Trainer::step(LoopState& s) {
  schedule_.total_steps = s.total;
  optimizer_->set_lr_factor(schedule_.factor(s.step));
  auto batch = loader_.get(s.step);
  optimizer_->zero_grad();
  methods::StepOutput out;
  {
    AutocastScope autocast(bf16_, batch.lead().device().type());
    out = method_->training_step(batch);
  }
  out.loss = out.loss.to(torch::kFloat32);
  // The mean over ranks: what is logged, and a NaN on any rank stops every rank together.
  auto loss = torch::tensor({out.loss.item<double>()}, torch::kFloat64);
  dist::all_reduce_sum_(loss);
  s.loss = loss.item<double>() / dist::world_size();
  nan_guard_.check(s.loss, s);
  out.loss.backward();
  dist::average_gradients(params_);
  for (auto& h : hooks_) h->before_optimizer_step(s, out);
  if (options_.grad_clip() > 0) torch::nn::utils::clip_grad_norm_(params_, options_.grad_clip());
  optimizer_->step();
  s.lr = optimizer_->lr();
  ++s.step;
  method_->after_optimizer_step(s.step, s.total);
  s.batch_images = batch.lead().size(0) * dist::world_size();  // the global batch
  s.images += s.batch_images;
  step_output_ = std::move(out);
  s.out = &step_output_;
}

void Trainer::choose_precision(const LoopState& s) {
  precision_ = PrecisionChoice{};
  if (options_.precision() != "auto") {
    bf16_ = use_bf16(options_.precision(), params_);
    precision_.precision = bf16_ ? "bf16" : "fp32";
    return;
  }
  const auto device = params_.empty() ? c10::DeviceType::CPU : params_.front().device().type();
  const auto candidates =
      options_.precision_candidates().empty() ? native_precisions(device) : options_.precision_candidates();
  for (const auto& p : candidates) {
    TORCH_CHECK(p == "fp32" || p == "bf16", "precision candidates must be fp32 or bf16, got '", p, "'");
  }
  if (candidates.size() == 1) {
    precision_.precision = candidates.front();
    precision_.source = "only";
  } else if (s.total - s.step < options_.precision_probe_min_steps()) {
    // The probe costs 50 to 160 steps' passes: a short run (a smoke test, a few rounds) takes
    // fp32, which is never emulated and rounds least.
    precision_.precision = "fp32";
    precision_.source = "short";
  } else {
    // The step's shape: the method, its parameters and one batch.
    std::ostringstream shape;
    shape << cfg_.get<std::string>("method.name", "") << " | params";
    for (const auto& p : params_) shape << " " << p.sizes();
    shape << " | batch";
    const auto b = loader_.get(s.step);
    for (const auto& v : b.views) shape << " " << v.sizes();
    for (const auto& t : b.token_ids) shape << " " << t.sizes();
    const auto key = precision_cache_key(shape.str(), device);
    const auto path = precision_cache_path();
    // Rank 0's cache decides for every rank, so that either all probe (its steps may gather
    // across ranks) or none does.
    auto cached = dist::is_main() ? read_precision_cache(path, key) : std::nullopt;
    auto pick = torch::tensor({cached ? (cached->precision == "bf16" ? 2.0 : 1.0) : 0.0}, torch::kFloat64);
    dist::broadcast_(pick);
    if (pick.item<double>() > 0) {
      precision_ = cached ? *cached : PrecisionChoice{};
      precision_.precision = pick.item<double>() > 1 ? "bf16" : "fp32";
      precision_.source = "cache";
    } else {
      const auto start = Clock::now();
      precision_.images_per_second = probe_precisions(s, candidates);
      precision_.probe_seconds = std::chrono::duration<double>(Clock::now() - start).count();
      precision_.precision = faster_precision(precision_.images_per_second);
      precision_.source = "probe";
      if (dist::is_main()) {
        write_precision_cache(path, key, precision_);
        precision_.cache_file = path;
      }
    }
  }
  bf16_ = precision_.precision == "bf16";
  cfg_.set("precision", YAML::Node(precision_.precision));
  if (dist::is_main()) std::cerr << precision_.describe() << "\n";
}

std::map<std::string, double> Trainer::probe_precisions(const LoopState& s, const std::vector<std::string>& candidates) {
  std::vector<torch::Tensor> saved;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : method_->parameters()) saved.push_back(p.detach().clone());
    for (const auto& b : method_->buffers()) saved.push_back(b.detach().clone());
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  const auto rng = generator.get_state();
  const bool cuda = !params_.empty() && params_.front().is_cuda();
  int64_t next = s.step;
  auto timed_step = [&](const std::string& precision) {
    auto batch = loader_.get(next++);
    if (cuda) torch::cuda::synchronize();
    const auto t0 = Clock::now();
    optimizer_->zero_grad();
    methods::StepOutput out;
    {
      AutocastScope autocast(precision == "bf16", batch.lead().device().type());
      out = method_->training_step(batch);
    }
    out.loss.to(torch::kFloat32).backward();
    if (cuda) torch::cuda::synchronize();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return std::make_pair(static_cast<double>(batch.lead().size(0) * dist::world_size()), seconds);  // global batch
  };
  // Two steps each to warm up (the first builds each precision's kernels), then blocks of steps in
  // each precision in turn, so that a slow spell of the machine hits both. Step times are noisy
  // (an fp32 step on a 2-core machine took 70 to 200 ms) and the precisions may differ by a few
  // percent, so blocks go on until the paired blocks' log rate ratio is clearly non-zero, or
  // clearly within 5% (either choice is then as good), or the step budget is spent.
  for (int warm = 0; warm < 2; ++warm) {
    for (const auto& p : candidates) timed_step(p);
  }
  constexpr int64_t kBlock = 8, kMinRounds = 3;
  const int64_t rounds = std::max(kMinRounds, (options_.precision_probe_steps() + kBlock - 1) / kBlock);
  const double indifferent = std::log(1.05);
  std::map<std::string, std::pair<double, double>> images_seconds;
  std::vector<double> log_ratios;  // log(rate of the last candidate / rate of the first), per round
  for (int64_t round = 0; round < rounds; ++round) {
    // Every rank takes the slowest rank's time, so that all decide alike.
    auto times = torch::zeros({static_cast<int64_t>(candidates.size())}, torch::kFloat64);
    double images = 0;
    for (size_t c = 0; c < candidates.size(); ++c) {
      images = 0;
      for (int64_t i = 0; i < kBlock; ++i) {
        const auto [n, seconds] = timed_step(candidates[c]);
        images += n;
        times[static_cast<int64_t>(c)] += seconds;
      }
    }
    dist::all_reduce_max_(times);
    for (size_t c = 0; c < candidates.size(); ++c) {
      images_seconds[candidates[c]].first += images;
      images_seconds[candidates[c]].second += times[static_cast<int64_t>(c)].item<double>();
    }
    log_ratios.push_back(std::log(times[0].item<double>() / times[static_cast<int64_t>(candidates.size()) - 1].item<double>()));
    if (static_cast<int64_t>(log_ratios.size()) < kMinRounds) continue;
    double mean = 0, var = 0;
    for (double r : log_ratios) mean += r / log_ratios.size();
    for (double r : log_ratios) var += (r - mean) * (r - mean) / (log_ratios.size() - 1);
    const double se = std::sqrt(var / log_ratios.size());
    if (std::abs(mean) > 2 * se || std::abs(mean) + 2 * se < indifferent) break;
  }
  std::map<std::string, double> result;
  for (const auto& [p, is] : images_seconds) result[p] = is.first / is.second;
  {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : method_->parameters()) p.copy_(saved[i++]);
    for (auto& b : method_->buffers()) b.copy_(saved[i++]);
  }
  optimizer_->zero_grad();
  generator.set_state(rng);
  return result;
}

TrainResult Trainer::fit() {
  LoopState s = begin();
  for (auto& h : hooks_) h->before_run(s);
  while (!stop_.stop_now(s)) {
    step(s);
    for (auto& h : hooks_) h->after_step(s);
  }
  TrainResult r;
  r.steps = s.step;
  r.total_steps = s.total;
  r.train_seconds = s.seconds();
  r.images_per_second = s.run_seconds() > 0 ? s.images / s.run_seconds() : 0;
  r.stopped_early = s.stopped_early;
  r.last_loss = s.loss;
  r.precision = precision_;
  for (auto& h : hooks_) h->after_run(s);
  return r;
}

}  // namespace selfsup::train
