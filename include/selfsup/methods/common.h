#pragma once
// Pieces several methods share: projector/predictor heads read from config, and the momentum
// (EMA) target networks of BYOL, MoCo and friends.
#include <torch/torch.h>

#include "selfsup/core/config.h"
#include "selfsup/dist/dist.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/nets/heads.h"

namespace selfsup::methods {

struct HeadDefaults {
  int64_t hidden = 2048;
  int64_t out = 256;
  int64_t layers = 2;
  bool batch_norm = true;
  bool last_batch_norm = false;
};

/// The keys of a head: `method.<prefix>_hidden_dim`, `_output_dim`, `_layers`, `_batch_norm`,
/// `_last_batch_norm`, e.g. prefix "proj", with the method's defaults. Without `output_dim` the
/// head maps back to its input's width.
KeySet head_keys(const std::string& prefix, const HeadDefaults& defaults, bool output_dim = true);

/// Builds the head `head_keys(prefix, ...)` declares.
nets::MLPHead make_head(const MethodConfig& cfg, const std::string& prefix, int64_t in_dim);

/// Momentum coefficient at step k of K: m_end - (m_end - m_start)(cos(pi k / K) + 1) / 2.
double cosine_momentum(double base, double final_value, int64_t step, int64_t total_steps);

/// target <- m * target + (1 - m) * online for every parameter; buffers (BN statistics) copied.
/// Both modules must have the same structure.
void momentum_update(torch::nn::Module& target, const torch::nn::Module& online, double m);

/// Copies online's parameters and buffers into target and freezes target's parameters.
void init_momentum_target(torch::nn::Module& target, const torch::nn::Module& online);

/// Encoder + projector: the unit a momentum target copies.
class BranchImpl : public torch::nn::Module {
 public:
  /// The backbone of model.*, the projector of head_keys("proj", ...).
  BranchImpl(const MethodConfig& cfg, int64_t channels, int64_t image_size);
  torch::Tensor forward(const torch::Tensor& x) { return projector(backbone->forward(x)); }
  nets::Backbone backbone;
  nets::MLPHead projector{nullptr};
};
TORCH_MODULE(Branch);

/// method.base_tau_momentum (a method's default) rising to method.final_tau_momentum (1) on the
/// cosine schedule.
struct MomentumSchedule {
  double base = 0.99;
  double final_value = 1.0;
  static KeySet keys(double base_default);
  static MomentumSchedule from_config(const MethodConfig& cfg);
  double at(int64_t step, int64_t total_steps) const {
    return cosine_momentum(base, final_value, step, total_steps);
  }
};

/// What BYOL and MoCo v3 share: an online branch with a predictor, and a momentum target copy of
/// the branch moved towards it after each optimizer step on the cosine schedule. Registers
/// "online", "target" and "predictor" on the owning method (whose checkpoint then holds them).
/// The predictor maps the projection back to its own size (it has no output-size key).
class OnlinePredictorTarget {
 public:
  /// The keys it reads: the projector's ("proj"), the predictor's ("pred", without
  /// pred_output_dim) and the momentum schedule's.
  static KeySet keys(const HeadDefaults& proj, const HeadDefaults& pred, double base_tau = 0.99);
  OnlinePredictorTarget(torch::nn::Module& owner, const MethodConfig& cfg, const DataSpec& spec);
  struct Views {
    torch::Tensor z;                         // online projections of both views, stacked
    std::vector<torch::Tensor> predicted;    // per view, with gradient
    std::vector<torch::Tensor> target;       // per view, without gradient
  };
  /// Both views through the online branch and the predictor, and without gradient through the
  /// target.
  Views forward(const Batch& b);
  /// The momentum step after optimizer step `step` (1-based) of `total`. Stateless in the step,
  /// so a resumed run uses the same coefficient as an uninterrupted one.
  void update(int64_t step, int64_t total);
  double tau() const { return tau_; }
  nets::Backbone encoder() const { return online_->backbone; }
  nets::MLPHead projector() const { return online_->projector; }

 private:
  MomentumSchedule momentum_;
  double tau_;
  Branch online_{nullptr}, target_{nullptr};
  nets::MLPHead predictor_{nullptr};
};

}  // namespace selfsup::methods
