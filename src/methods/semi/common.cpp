#include "selfsup/methods/semi.h"

#include <cmath>

#include "selfsup/methods/common.h"

namespace selfsup::methods {

ClassifierImpl::ClassifierImpl(const Config& cfg, const DataSpec& spec) {
  TORCH_CHECK(spec.num_classes > 1, "a classifier needs at least 2 classes, got ", spec.num_classes);
  backbone = register_module("backbone", nets::make_backbone(cfg, spec.channels, spec.image_size));
  const auto width = cfg.get<int64_t>("model.classifier_hidden_dim", 0);
  TORCH_CHECK(width >= 0, "model.classifier_hidden_dim must be >= 0 (0 = a linear head), got ", width);
  int64_t head_in = backbone->feature_dim();
  if (width > 0) {
    hidden = register_module("hidden", torch::nn::Sequential(torch::nn::Linear(head_in, width),
                                                             torch::nn::BatchNorm1d(width), torch::nn::ReLU()));
    head_in = width;
  }
  head = register_module("head", torch::nn::Linear(head_in, spec.num_classes));
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

SemiMethodImpl::SemiMethodImpl(const Config& cfg, const DataSpec& spec, double lambda_u, double ramp_fraction,
                               int64_t ramp_steps) {
  student = register_module("student", Classifier(cfg, spec));
  ema = register_module("ema", Classifier(cfg, spec));
  init_momentum_target(*ema, *student);
  lambda_u_ = cfg.get<double>("method.unlabeled_weight", lambda_u);
  ramp_fraction_ = cfg.get<double>("method.ramp_fraction", ramp_fraction);
  // A ramp_fraction given in the config replaces a method's default ramp in steps; ramp_steps
  // given as well wins.
  if (cfg.has("method.ramp_fraction")) ramp_steps = 0;
  ramp_steps_ = cfg.get<int64_t>("method.ramp_steps", ramp_steps);
  ema_decay_ = cfg.get<double>("method.ema_decay", 0.999);
  masked_mean_ = functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean", "batch"), "method.masked_mean");
  seed_ = cfg.get<uint64_t>("seed", 0);
  TORCH_CHECK(lambda_u_ >= 0, "method.unlabeled_weight must be >= 0, got ", lambda_u_);
  TORCH_CHECK(ramp_fraction_ >= 0 && ramp_fraction_ <= 1, "method.ramp_fraction must be in [0, 1], got ", ramp_fraction_);
  TORCH_CHECK(ramp_steps_ >= 0, "method.ramp_steps must be >= 0, got ", ramp_steps_);
  TORCH_CHECK(ema_decay_ >= 0 && ema_decay_ < 1, "method.ema_decay must be in [0, 1), got ", ema_decay_);
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

double SemiMethodImpl::unlabeled_weight() const {
  const double step = static_cast<double>(progress_[0].item<int64_t>());
  // A ramp in steps keeps a method's published warm-up whatever the run's length; a share of the
  // run would bring a weight like MixMatch's 75 to full strength within a few hundred steps of a
  // short run, before the classifier's guesses are worth matching.
  if (ramp_steps_ > 0) return lambda_u_ * std::min(1.0, step / static_cast<double>(ramp_steps_));
  if (ramp_fraction_ <= 0) return lambda_u_;
  const double total = static_cast<double>(std::max<int64_t>(1, progress_[1].item<int64_t>()));
  return lambda_u_ * std::min(1.0, step / (ramp_fraction_ * total));
}

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

void SemiMethodImpl::read_distribution_alignment(const Config& cfg, const DataSpec& spec, bool on_by_default) {
  const double momentum = cfg.get<double>("method.dist_align_momentum", 0.999);
  if (!cfg.get<bool>("method.dist_align", on_by_default)) return;
  dist_align_ = register_module(
      "dist_align", losses::DistributionAlignment(
                        losses::DistributionAlignmentOptions(spec.num_classes).momentum(momentum)));
}

torch::Tensor SemiMethodImpl::target_logits(const torch::Tensor& weak_logits) {
  if (!dist_align_) return weak_logits.detach();
  return dist_align_->forward(weak_logits);
}

void SemiMethodImpl::read_class_contrast(const Config& cfg) {
  contrast_weight_ = cfg.get<double>("method.contrast_weight", 0.0);
  contrast_options_.threshold(cfg.get<double>("method.contrast_threshold", 0.8))
      .temperature(cfg.get<double>("method.contrast_temperature", 0.2));
  TORCH_CHECK(std::isfinite(contrast_weight_) && contrast_weight_ >= 0, "method.contrast_weight must be >= 0, got ",
              contrast_weight_);
  TORCH_CHECK(contrast_options_.threshold() >= 0 && contrast_options_.threshold() <= 1,
              "method.contrast_threshold must be in [0, 1], got ", contrast_options_.threshold());
  TORCH_CHECK(std::isfinite(contrast_options_.temperature()) && contrast_options_.temperature() > 0,
              "method.contrast_temperature must be > 0, got ", contrast_options_.temperature());
  const int64_t dim = student->backbone->feature_dim();
  // Read even when off, so that the projector's keys are known config keys either way.
  auto projector = make_head(cfg, "contrast_proj", dim, HeadDefaults{dim, 64, 2, true, false});
  if (contrast_weight_ > 0) contrast_projector_ = register_module("contrast_projector", projector);
}

void SemiMethodImpl::add_class_contrast(StepOutput& out, const torch::Tensor& weak_features,
                                        const torch::Tensor& strong_features, const torch::Tensor& targets) {
  if (!class_contrast_on()) return;
  // One projector pass over both views: its BatchNorm sees one batch, as the backbone's does.
  auto z = contrast_projector_->forward(torch::cat({weak_features, strong_features})).to(torch::kFloat32);
  auto zs = z.chunk(2);
  auto c = functional::class_contrast_loss(zs[0], zs[1], targets, contrast_options_);
  out.metrics["contrast_loss"] = c.item<double>();
  out.loss = out.loss + contrast_weight_ * c;
}

void SemiMethodImpl::check_unlabeled(const Batch& b, size_t views, const char* method) {
  TORCH_CHECK(b.labels.defined(), method, " needs labels in the batch");
  TORCH_CHECK(b.unlabeled_views.size() >= views, method, " needs ", views,
              " unlabeled view(s) per image (run it with `selfsup semi`), got ", b.unlabeled_views.size());
}

}  // namespace selfsup::methods

namespace selfsup::methods {

std::shared_ptr<SemiMethodImpl> make_semi_method(const Config& cfg, const DataSpec& spec) {
  auto m = std::dynamic_pointer_cast<SemiMethodImpl>(make_method(cfg, spec));
  TORCH_CHECK(m, "method '", cfg.get<std::string>("method.name", ""),
              "' is not semi-supervised (expected supervised, pseudo_label, pi_model, mean_teacher, vat, mixmatch, "
              "fixmatch, flexmatch, simmatch or uda)");
  return m;
}

}  // namespace selfsup::methods
