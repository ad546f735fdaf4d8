#pragma once
// What the positive-unlabeled methods share: a binary classifier (the config's backbone and a
// one-output head) whose score g(x) > 0 says "positive", trained on batches of labeled positives
// (batch.views[0], labels all 1) and unlabeled images (batch.unlabeled_views[0]), the class prior
// of the unlabeled data for the methods whose risk needs it (kept in the checkpoint, so a resumed
// run trains with the prior it started with, estimated or not), and the map from scores to
// decisions, which some methods fit after training on data they may use (VPU's scale, Elkan-Noto's
// c). A method is a small file in src/methods/pu/.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "selfsup/methods/keys.h"
#include "selfsup/methods/method.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {

/// What a PU method may calibrate its decision on after training: the scores of the unlabeled
/// training images and of the validation split's labeled positives.
struct PuCalibration {
  torch::Tensor unlabeled_scores;     // [Nu], the unlabeled training images
  torch::Tensor val_positive_scores;  // [Nv], the validation split's labeled positives
};

class PuMethodImpl : public MethodImpl {
 public:
  /// The keys every PU method reads: model.classifier_hidden_dim and method.mu (unlabeled images
  /// per labeled positive in a batch, `mu` by default).
  static KeySet classifier_keys(int64_t mu);

  PuMethodImpl(const MethodConfig& cfg, const DataSpec& spec);

  nets::Backbone encoder() const override { return classifier->backbone; }
  int64_t num_views() const override { return 1; }
  int64_t mu() const { return mu_; }
  /// The view both streams are drawn with (train/semi_loader.h's names).
  std::vector<std::string> unlabeled_views() const { return {"weak"}; }

  /// g(x) [N] in float32.
  torch::Tensor score(const torch::Tensor& x);

  /// Whether training needs the class prior of the unlabeled data (uPU, nnPU).
  virtual bool needs_prior() const { return false; }
  /// Sets the prior pi in (0, 1) the risk uses; it travels with the checkpoint.
  void set_prior(double prior);
  /// The prior set, or NaN when none is.
  double prior() const;
  /// The estimates behind an estimated prior, recorded with it so that a resumed run reports the
  /// ones it started with: {c, Elkan-Noto's prior, BBE's prior}, NaN where not estimated.
  void record_estimates(const torch::Tensor& estimates);
  torch::Tensor recorded_estimates() const;

  /// Whether the method is a labeled-vs-unlabeled classifier, and the odds w / (1 - w) at which
  /// it weighs labeled against unlabeled images: what Elkan-Noto's estimate of the prior needs.
  virtual std::optional<double> labeled_odds() const { return std::nullopt; }

  /// Fits the map from scores to decisions after training (eval mode, no gradients); the default
  /// needs nothing.
  virtual void calibrate(const PuCalibration& data) {}
  /// Decision values of scores: > 0 predicts positive. A monotone map of the score, so either
  /// ranks the images alike (AUC).
  virtual torch::Tensor decision(const torch::Tensor& scores) const { return scores; }
  /// What calibrate() fitted, for the summary (empty by default).
  virtual nlohmann::json calibration() const { return nlohmann::json::object(); }

  /// Updates the step counter (per-step randomness, e.g. VPU's MixUp, is seeded from it).
  void after_optimizer_step(int64_t step, int64_t total_steps) override;

  Classifier classifier{nullptr};

 protected:
  /// Scores of the labeled positives and the unlabeled images of a batch, in one forward pass
  /// (BatchNorm sees one batch), gathered over ranks: every rank computes the loss of the global
  /// batch, which trains as one process with the whole batch would.
  std::pair<torch::Tensor, torch::Tensor> batch_scores(const Batch& b);
  /// The prior, checked to be set: the methods that need it call this.
  double required_prior(const char* method) const;
  static void check_pu_batch(const Batch& b, const char* method);
  int64_t completed_steps() const { return progress_.item<int64_t>(); }

  uint64_t seed_;

 private:
  int64_t mu_;
  torch::Tensor prior_, estimates_, progress_;  // buffers
};
using PuMethod = std::shared_ptr<PuMethodImpl>;

/// The PU method named by `method.name`; throws naming it when it is another kind.
PuMethod make_pu_method(const Config& cfg, const DataSpec& spec);

}  // namespace selfsup::methods
