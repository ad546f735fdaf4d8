#pragma once
// What the semi-supervised methods share: the classifier they train (backbone + linear head),
// its EMA copy (evaluated next to the last weights; Mean Teacher's teacher), the supervised
// cross-entropy, the ramp of the unlabeled weight, and the pseudo-label bookkeeping that is
// logged (mask rate, pseudo-label accuracy against the true labels, which are never trained on).
// A method is a small file in src/methods/semi/ that writes its training_step with these pieces.
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/losses/class_contrast.h"
#include "selfsup/losses/dist_align.h"
#include "selfsup/losses/masked_mean.h"
#include "selfsup/methods/keys.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/nets/heads.h"

namespace selfsup::methods {

class ClassifierImpl : public torch::nn::Module {
 public:
  /// The backbone of model.*, the hidden layer of model.classifier_hidden_dim, and a head of
  /// `outputs` logits (0: one per class of `spec`; a binary PU classifier has one score).
  ClassifierImpl(const MethodConfig& cfg, const DataSpec& spec, int64_t outputs = 0);
  torch::Tensor forward(const torch::Tensor& x) { return classify(backbone->forward(x)); }
  /// Logits from backbone features: through the hidden layer when there is one, then the head.
  torch::Tensor classify(const torch::Tensor& features) { return head->forward(hidden_features(features)); }
  /// What the head reads: the backbone's features, through the hidden layer when there is one.
  torch::Tensor hidden_features(const torch::Tensor& features) {
    return hidden ? hidden->forward(features) : features;
  }
  nets::Backbone backbone;
  /// Linear - BatchNorm - ReLU of width model.classifier_hidden_dim; absent when that is 0 (the
  /// default: a linear head on the backbone). SimCLRv2 fine-tunes from the projector's first layer
  /// rather than from the encoder, and `--init` copies that layer here.
  torch::nn::Sequential hidden{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Classifier);

/// Keeps the BatchNorm running statistics of a module unchanged across a scope: forward passes
/// on perturbed or mixed inputs (VAT's power iteration) still normalise with the batch's
/// statistics but do not leak into the statistics used at evaluation (USB's freeze_bn).
class FrozenRunningStats {
 public:
  explicit FrozenRunningStats(torch::nn::Module& m);
  ~FrozenRunningStats();
  FrozenRunningStats(const FrozenRunningStats&) = delete;
  FrozenRunningStats& operator=(const FrozenRunningStats&) = delete;

 private:
  std::vector<torch::Tensor> live_, saved_;
};

/// The defaults of a method's unlabeled term (each method's paper or USB).
struct UnlabeledDefaults {
  double weight = 1.0;         // lambda_u
  double ramp_fraction = 0.0;  // share of the planned steps over which lambda_u ramps up from 0
  int64_t ramp_steps = 0;      // or a ramp in steps, whatever the run's length (> 0 wins)
};

class SemiMethodImpl : public MethodImpl {
 public:
  /// The keys every semi-supervised method reads: the classifier's model.classifier_hidden_dim and
  /// the EMA's method.ema_decay.
  static KeySet classifier_keys();
  /// The keys of a method with an unlabeled term: method.unlabeled_weight, method.ramp_fraction,
  /// method.ramp_steps and the loader's method.mu (unlabeled images per labeled image).
  static KeySet unlabeled_keys(const UnlabeledDefaults& defaults);
  /// method.masked_mean, for the methods whose unlabeled loss is confidence-masked
  /// (losses/masked_mean.h).
  static KeySet masked_mean_keys();

  /// Reads classifier_keys() and, when the method declares them, unlabeled_keys().
  SemiMethodImpl(const MethodConfig& cfg, const DataSpec& spec);

  nets::Backbone encoder() const override { return student->backbone; }
  int64_t num_views() const override { return 1; }  // the labeled batch: one weak view
  bool uses_labels() const override { return true; }
  /// Preset names of the views each unlabeled image needs, e.g. {"weak", "strong"}; empty for
  /// labeled data only (supervised).
  virtual std::vector<std::string> unlabeled_views() const = 0;
  /// Unlabeled images per labeled image in a batch (0 without an unlabeled term).
  int64_t mu() const { return mu_; }
  /// The confidence a pseudo-label needs to be trained on, for the methods that have one.
  virtual std::optional<double> confidence_threshold() const { return std::nullopt; }
  /// Moves the EMA towards the student (decay min(1 - 1/(step + 1), method.ema_decay)) and
  /// records the step for the ramp. Methods overriding it call it.
  void after_optimizer_step(int64_t step, int64_t total_steps) override;

  Classifier student{nullptr};
  Classifier ema{nullptr};

 protected:
  /// lambda_u, ramped linearly from 0 over the first ramp_steps optimizer steps when that is set,
  /// else over the first ramp_fraction of the planned steps.
  double unlabeled_weight() const;
  /// That ramp alone, in [0, 1] (for a method with more than one unlabeled term).
  double unlabeled_ramp() const;
  /// Optimizer steps completed (restored on resume): seeds per-step randomness.
  int64_t completed_steps() const { return progress_[0].item<int64_t>(); }
  /// One forward pass of several inputs together (BatchNorm sees one batch of labeled and
  /// unlabeled images, as in USB), split back into logits per input.
  std::vector<torch::Tensor> forward_together(const std::vector<torch::Tensor>& inputs);
  /// The same, also returning the backbone's features of each input (what a projector reads).
  struct Outputs {
    std::vector<torch::Tensor> logits, features;
  };
  Outputs forward_together_with_features(const std::vector<torch::Tensor>& inputs);
  /// loss = supervised + unlabeled_weight() * unlabeled; logs both terms and the weight.
  StepOutput combine(const torch::Tensor& supervised, const torch::Tensor& unlabeled,
                     std::map<std::string, double> metrics = {}) const;
  /// mask_rate and pseudo_label_acc (accepted pseudo-labels against the true labels) of a batch.
  static void log_pseudo_labels(std::map<std::string, double>& metrics, const torch::Tensor& labels,
                                const torch::Tensor& mask, const Batch& b);
  static void check_unlabeled(const Batch& b, size_t views, const char* method);

  uint64_t seed_;

 private:
  double lambda_u_ = 0, ramp_fraction_ = 0, ema_decay_;
  int64_t ramp_steps_ = 0, mu_ = 0;
  torch::Tensor progress_;  // buffer [step, total]: the ramp resumes where it stopped
};

/// Distribution alignment of the weak view's predictions (losses/dist_align.h), held by the
/// methods whose targets come from a weak view. Keys method.dist_align (on or off by the
/// method's recipe) and method.dist_align_momentum; the running marginal is registered on the
/// owner as "dist_align" only when on, and is fed every rank's predictions.
class DistAlign {
 public:
  static KeySet keys(bool on_by_default);
  DistAlign(torch::nn::Module& owner, const MethodConfig& cfg, const DataSpec& spec);
  /// The weak view's logits as targets: aligned when on, else as they are; detached either way.
  torch::Tensor targets(const torch::Tensor& weak_logits);

 private:
  losses::DistributionAlignment module_{nullptr};
};

/// The class-aware contrast (losses/class_contrast.h) of a weak and a strong view, held by the
/// methods that have both. Keys method.contrast_weight (0: off), method.contrast_threshold,
/// method.contrast_temperature and the projector's method.contrast_proj_*; the projector is
/// registered on the owner as "contrast_projector" only when the weight is > 0.
class ClassContrast {
 public:
  static KeySet keys();
  ClassContrast(torch::nn::Module& owner, const MethodConfig& cfg, int64_t feature_dim);
  bool on() const { return !projector_.is_empty(); }
  /// Adds weight * class_contrast_loss(proj(weak), proj(strong), targets) to out.loss and logs it
  /// as contrast_loss; a no-op when off.
  void add(StepOutput& out, const torch::Tensor& weak_features, const torch::Tensor& strong_features,
           const torch::Tensor& targets);

 private:
  nets::MLPHead projector_{nullptr};
  double weight_ = 0;
  functional::ClassContrastOptions options_;
};

/// The semi-supervised (or supervised) method named by `method.name`; throws naming it when it
/// is another kind.
std::shared_ptr<SemiMethodImpl> make_semi_method(const Config& cfg, const DataSpec& spec);

}  // namespace selfsup::methods
