#pragma once
// What the semi-supervised methods share: the classifier they train (backbone + linear head),
// its EMA copy (evaluated next to the last weights; Mean Teacher's teacher), the supervised
// cross-entropy, the ramp of the unlabeled weight, and the pseudo-label bookkeeping that is
// logged (mask rate, pseudo-label accuracy against the true labels, which are never trained on).
// A method is a small file in src/methods/semi/ that writes its training_step with these pieces.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/losses/class_contrast.h"
#include "selfsup/losses/dist_align.h"
#include "selfsup/losses/masked_mean.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/nets/heads.h"

namespace selfsup::methods {

class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(const Config& cfg, const DataSpec& spec);
  torch::Tensor forward(const torch::Tensor& x) { return classify(backbone->forward(x)); }
  /// Logits from backbone features: through the hidden layer when there is one, then the head.
  torch::Tensor classify(const torch::Tensor& features) {
    return head->forward(hidden ? hidden->forward(features) : features);
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

class SemiMethodImpl : public MethodImpl {
 public:
  /// Reads method.unlabeled_weight (lambda_u), method.ramp_fraction, method.ramp_steps,
  /// method.ema_decay and method.masked_mean, with the given defaults (each method's paper or USB).
  SemiMethodImpl(const Config& cfg, const DataSpec& spec, double lambda_u, double ramp_fraction,
                 int64_t ramp_steps = 0);

  nets::Backbone encoder() const override { return student->backbone; }
  int64_t num_views() const override { return 1; }  // the labeled batch: one weak view
  bool uses_labels() const override { return true; }
  /// Preset names of the views each unlabeled image needs, e.g. {"weak", "strong"}; empty for
  /// labeled data only (supervised).
  virtual std::vector<std::string> unlabeled_views() const = 0;
  /// Moves the EMA towards the student (decay min(1 - 1/(step + 1), method.ema_decay)) and
  /// records the step for the ramp. Methods overriding it call it.
  void after_optimizer_step(int64_t step, int64_t total_steps) override;

  Classifier student{nullptr};
  Classifier ema{nullptr};

 protected:
  /// lambda_u, ramped linearly from 0 over the first ramp_steps optimizer steps when that is set,
  /// else over the first ramp_fraction of the planned steps.
  double unlabeled_weight() const;
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
  /// Reads method.dist_align (off unless the method's recipe has it on) and
  /// method.dist_align_momentum (0.999): methods whose targets come from the weak view call it,
  /// and only they accept the keys.
  void read_distribution_alignment(const Config& cfg, const DataSpec& spec, bool on_by_default = false);
  /// The weak view's logits as targets: distribution-aligned (losses/dist_align.h, which also
  /// updates the running class marginal) when method.dist_align is on, else detached as they are.
  torch::Tensor target_logits(const torch::Tensor& weak_logits);
  /// Reads method.contrast_weight (0: off, the default), method.contrast_threshold (0.8),
  /// method.contrast_temperature (0.2) and the projector's method.contrast_proj_* keys; when the
  /// weight is > 0 it registers the projector. Methods with a weak and a strong unlabeled view
  /// call it, and only they accept the keys.
  void read_class_contrast(const Config& cfg);
  bool class_contrast_on() const { return !contrast_projector_.is_empty(); }
  /// Adds contrast_weight * class_contrast_loss(proj(weak), proj(strong), targets) to out.loss
  /// and logs it as contrast_loss (losses/class_contrast.h); a no-op when off.
  void add_class_contrast(StepOutput& out, const torch::Tensor& weak_features,
                          const torch::Tensor& strong_features, const torch::Tensor& targets);

  functional::MaskedMean masked_mean_;
  uint64_t seed_;

 private:
  double lambda_u_, ramp_fraction_, ema_decay_;
  int64_t ramp_steps_;
  torch::Tensor progress_;  // buffer [step, total]: the ramp resumes where it stopped
  losses::DistributionAlignment dist_align_{nullptr};  // registered only when on
  nets::MLPHead contrast_projector_{nullptr};          // registered only when on
  double contrast_weight_ = 0;
  functional::ClassContrastOptions contrast_options_;
};

/// The semi-supervised method named by `method.name` (throws naming it when it is not one).
std::shared_ptr<SemiMethodImpl> make_semi_method(const Config& cfg, const DataSpec& spec);

}  // namespace selfsup::methods
