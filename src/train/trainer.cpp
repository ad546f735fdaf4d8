#include "selfsup/train/trainer.h"

#include <cmath>
#include <limits>
#include <iostream>

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
  TORCH_CHECK(o.epochs() > 0 || o.max_steps() > 0, "train.epochs must be positive, got ", o.epochs());
  TORCH_CHECK(o.max_steps() >= 0, "train.max_steps must be >= 0, got ", o.max_steps());
  TORCH_CHECK(o.warmup_epochs() >= 0, "train.warmup_epochs must be >= 0, got ", o.warmup_epochs());
  TORCH_CHECK(o.grad_clip() >= 0, "train.grad_clip must be >= 0, got ", o.grad_clip());
  TORCH_CHECK(o.log_every_steps() > 0, "train.log_every_steps must be positive, got ", o.log_every_steps());
  TORCH_CHECK(o.precision() == "fp32" || o.precision() == "bf16", "precision must be fp32 or bf16, got '",
              o.precision(), "'");
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
  bf16_ = use_bf16(options_.precision(), params_);
  method_->train();
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
    AutocastScope autocast(bf16_, batch.views.front().device().type());
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
  s.batch_images = batch.views.front().size(0) * dist::world_size();  // the global batch
  s.images += s.batch_images;
  step_output_ = std::move(out);
  s.out = &step_output_;
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
  for (auto& h : hooks_) h->after_run(s);
  return r;
}

}  // namespace selfsup::train
