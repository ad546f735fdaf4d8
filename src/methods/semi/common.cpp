#include "selfsup/methods/semi.h"

#include <cmath>

#include "selfsup/dist/dist.h"
#include "selfsup/methods/common.h"
#include "selfsup/nets/batchnorm.h"

namespace selfsup::methods {

ClassifierImpl::ClassifierImpl(const MethodConfig& cfg, const DataSpec& spec, int64_t outputs) {
  TORCH_CHECK(outputs > 0 || spec.num_classes > 1, "a classifier needs at least 2 classes, got ", spec.num_classes);
  backbone = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
  const auto width = cfg.get<int64_t>("model.classifier_hidden_dim");
  TORCH_CHECK(width >= 0, "model.classifier_hidden_dim must be >= 0 (0 = a linear head), got ", width);
  int64_t head_in = backbone->feature_dim();
  if (width > 0) {
    // selfsup's BatchNorm (torch's parameter names) so that SyncBatchNorm reaches this layer too.
    hidden = register_module("hidden", torch::nn::Sequential(torch::nn::Linear(head_in, width),
                                                             nets::BatchNorm(width), torch::nn::ReLU()));
    head_in = width;
  }
  head = register_module("head", torch::nn::Linear(head_in, outputs > 0 ? outputs : spec.num_classes));
}

FrozenRunningStats::FrozenRunningStats(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& b : m.buffers()) {
    live_.push_back(b);
    saved_.push_back(b.clone());
  }
}

FrozenRunningStats::~FrozenRunningStats() {
  // set_data, not copy_: batch_norm's backward saved these tensors, and an in-place write would
  // bump their version and fail that backward (training-mode backward never reads their values).
  for (size_t i = 0; i < live_.size(); ++i) live_[i].set_data(saved_[i]);
}

KeySet SemiMethodImpl::classifier_keys() {
  KeySet k;
  k.add("model.classifier_hidden_dim", int64_t{0},
        "width of a Linear-BN-ReLU layer between backbone and head (0: a linear head)")
      .add("method.ema_decay", 0.999, "decay of the EMA model (warmed up as min(1 - 1/(step + 1), decay))");
  return k;
}

KeySet SemiMethodImpl::unlabeled_keys(const UnlabeledDefaults& d) {
  KeySet k;
  k.add("method.unlabeled_weight", d.weight, "lambda_u, the weight of the unlabeled term")
      .add("method.ramp_fraction", d.ramp_fraction, "share of the planned steps over which lambda_u ramps up")
      .add("method.ramp_steps", d.ramp_steps, "or the steps it ramps over (> 0 wins; a ramp_fraction given alone turns it off)")
      .add("method.mu", int64_t{7}, "unlabeled images per labeled image in a batch");
  return k;
}

KeySet SemiMethodImpl::masked_mean_keys() {
  return KeySet().add("method.masked_mean", std::string("batch"),
                      "batch: divide the masked loss by the batch; accepted: by the accepted count");
}

SemiMethodImpl::SemiMethodImpl(const MethodConfig& cfg, const DataSpec& spec) : seed_(spec.seed) {
  student = register_module("student", Classifier(cfg, spec));
  ema = register_module("ema", Classifier(cfg, spec));
  init_momentum_target(*ema, *student);
  ema_decay_ = cfg.get<double>("method.ema_decay");
  TORCH_CHECK(ema_decay_ >= 0 && ema_decay_ < 1, "method.ema_decay must be in [0, 1), got ", ema_decay_);
  if (cfg.declares("method.unlabeled_weight")) {
    lambda_u_ = cfg.get<double>("method.unlabeled_weight");
    ramp_fraction_ = cfg.get<double>("method.ramp_fraction");
    ramp_steps_ = cfg.get<int64_t>("method.ramp_steps");
    // A ramp_fraction given in the config replaces a method's ramp in steps, unless ramp_steps is
    // given too.
    if (cfg.given("method.ramp_fraction") && !cfg.given("method.ramp_steps")) ramp_steps_ = 0;
    mu_ = cfg.get<int64_t>("method.mu");
    TORCH_CHECK(lambda_u_ >= 0, "method.unlabeled_weight must be >= 0, got ", lambda_u_);
    TORCH_CHECK(ramp_fraction_ >= 0 && ramp_fraction_ <= 1, "method.ramp_fraction must be in [0, 1], got ",
                ramp_fraction_);
    TORCH_CHECK(ramp_steps_ >= 0, "method.ramp_steps must be >= 0, got ", ramp_steps_);
    TORCH_CHECK(mu_ > 0, "method.mu (unlabeled images per labeled image) must be positive, got ", mu_);
  }
  progress_ = register_buffer("progress", torch::zeros({2}, torch::kLong));
}

void SemiMethodImpl::after_optimizer_step(int64_t step, int64_t total_steps) {
  // Mean Teacher's warm-up of the decay, min(1 - 1 / (step + 1), decay): a constant 0.999 would
  // still hold 0.999^1000 = 37% of the random initial weights after 1000 steps, so the EMA model
  // of a short run would score near chance.
  const double decay = std::min(1.0 - 1.0 / static_cast<double>(step + 1), ema_decay_);
  momentum_update(*ema, *student, decay);
  progress_[0] = step;
  progress_[1] = total_steps;
}

double SemiMethodImpl::unlabeled_ramp() const {
  const double step = static_cast<double>(progress_[0].item<int64_t>());
  // A ramp in steps keeps a method's published warm-up whatever the run's length; a share of the
  // run would bring a weight like MixMatch's 75 to full strength within a few hundred steps of a
  // short run, before the classifier's guesses are worth matching.
  if (ramp_steps_ > 0) return std::min(1.0, step / static_cast<double>(ramp_steps_));
  if (ramp_fraction_ <= 0) return 1.0;
  const double total = static_cast<double>(std::max<int64_t>(1, progress_[1].item<int64_t>()));
  return std::min(1.0, step / (ramp_fraction_ * total));
}

double SemiMethodImpl::unlabeled_weight() const { return lambda_u_ * unlabeled_ramp(); }

std::vector<torch::Tensor> SemiMethodImpl::forward_together(const std::vector<torch::Tensor>& inputs) {
  return forward_together_with_features(inputs).logits;
}

SemiMethodImpl::Outputs SemiMethodImpl::forward_together_with_features(const std::vector<torch::Tensor>& inputs) {
  std::vector<int64_t> sizes;
  for (const auto& x : inputs) sizes.push_back(x.size(0));
  auto features = student->backbone->forward(torch::cat(inputs));
  auto logits = student->classify(features).to(torch::kFloat32);
  return {logits.split_with_sizes(sizes), features.split_with_sizes(sizes)};
}

StepOutput SemiMethodImpl::combine(const torch::Tensor& supervised, const torch::Tensor& unlabeled,
                                   std::map<std::string, double> metrics) const {
  const double w = unlabeled_weight();
  metrics["sup_loss"] = supervised.item<double>();
  metrics["unsup_loss"] = unlabeled.item<double>();
  metrics["unsup_weight"] = w;
  return {supervised + w * unlabeled, std::move(metrics)};
}

void SemiMethodImpl::log_pseudo_labels(std::map<std::string, double>& metrics, const torch::Tensor& labels,
                                       const torch::Tensor& mask, const Batch& b) {
  torch::NoGradGuard no_grad;
  auto accepted = mask.to(torch::kFloat64) > 0.5;
  const double n = accepted.sum().item<double>();
  metrics["mask_rate"] = n / static_cast<double>(std::max<int64_t>(1, mask.numel()));
  if (b.unlabeled_true_labels.defined() && n > 0) {
    auto right = labels.eq(b.unlabeled_true_labels.to(labels.device())).logical_and(accepted);
    metrics["pseudo_label_acc"] = right.sum().item<double>() / n;
  }
}

void SemiMethodImpl::check_unlabeled(const Batch& b, size_t views, const char* method) {
  TORCH_CHECK(b.labels.defined(), method, " needs labels in the batch");
  TORCH_CHECK(b.unlabeled_views.size() >= views, method, " needs ", views,
              " unlabeled view(s) per image (run it with `selfsup semi`), got ", b.unlabeled_views.size());
}

KeySet DistAlign::keys(bool on_by_default) {
  KeySet k;
  k.add("method.dist_align", on_by_default, "align the weak view's predictions to a uniform class marginal")
      .add("method.dist_align_momentum", 0.999, "EMA momentum of the running class marginal");
  return k;
}

DistAlign::DistAlign(torch::nn::Module& owner, const MethodConfig& cfg, const DataSpec& spec) {
  const double momentum = cfg.get<double>("method.dist_align_momentum");
  if (!cfg.get<bool>("method.dist_align")) return;
  module_ = owner.register_module(
      "dist_align", losses::DistributionAlignment(
                        losses::DistributionAlignmentOptions(spec.num_classes).momentum(momentum)));
}

torch::Tensor DistAlign::targets(const torch::Tensor& weak_logits) {
  if (!module_) return weak_logits.detach();
  // The running marginal follows the global batch, so every rank holds the same one; each rank
  // keeps the rows of its own images.
  const int64_t n = weak_logits.size(0);
  auto aligned = module_->forward(dist::all_gather(weak_logits.detach()));
  return aligned.slice(0, dist::rank() * n, (dist::rank() + 1) * n);
}

KeySet ClassContrast::keys() {
  KeySet k;
  k.add("method.contrast_weight", 0.0, "weight of the class-aware contrast (0: off)")
      .add("method.contrast_threshold", 0.8, "confidence a pseudo-label needs to group images")
      .add("method.contrast_temperature", 0.2, "temperature of the contrast")
      .add(head_keys("contrast_proj", HeadDefaults{0, 64, 2, true, false}));
  return k;
}

ClassContrast::ClassContrast(torch::nn::Module& owner, const MethodConfig& cfg, int64_t feature_dim) {
  weight_ = cfg.get<double>("method.contrast_weight");
  options_.threshold(cfg.get<double>("method.contrast_threshold"))
      .temperature(cfg.get<double>("method.contrast_temperature"));
  TORCH_CHECK(std::isfinite(weight_) && weight_ >= 0, "method.contrast_weight must be >= 0, got ", weight_);
  TORCH_CHECK(options_.threshold() >= 0 && options_.threshold() <= 1,
              "method.contrast_threshold must be in [0, 1], got ", options_.threshold());
  TORCH_CHECK(std::isfinite(options_.temperature()) && options_.temperature() > 0,
              "method.contrast_temperature must be > 0, got ", options_.temperature());
  // Built (so its keys are read and checked) even when off.
  auto projector = make_head(cfg, "contrast_proj", feature_dim);
  if (weight_ > 0) projector_ = owner.register_module("contrast_projector", projector);
}

void ClassContrast::add(StepOutput& out, const torch::Tensor& weak_features, const torch::Tensor& strong_features,
                        const torch::Tensor& targets) {
  if (!on()) return;
  // One projector pass over both views: its BatchNorm sees one batch, as the backbone's does.
  auto z = projector_->forward(torch::cat({weak_features, strong_features})).to(torch::kFloat32);
  auto zs = z.chunk(2);
  auto c = functional::class_contrast_loss(zs[0], zs[1], targets, options_);
  out.metrics["contrast_loss"] = c.item<double>();
  out.loss = out.loss + weight_ * c;
}

std::shared_ptr<SemiMethodImpl> make_semi_method(const Config& cfg, const DataSpec& spec) {
  auto m = std::dynamic_pointer_cast<SemiMethodImpl>(make_method(cfg, spec, {Kind::kSemiSupervised, Kind::kSupervised}));
  TORCH_CHECK(m, "method '", cfg.get<std::string>("method.name", ""), "' is not built on a classifier");
  return m;
}

}  // namespace selfsup::methods
