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

/// Builds the head described by `<prefix>_hidden_dim`, `<prefix>_output_dim`, `<prefix>_layers`,
/// `<prefix>_batch_norm`, `<prefix>_last_batch_norm` under `method.`, e.g. prefix "proj".
nets::MLPHead make_head(const Config& cfg, const std::string& prefix, int64_t in_dim,
                        const HeadDefaults& defaults);

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
  BranchImpl(const Config& cfg, int64_t channels, int64_t image_size, const HeadDefaults& proj);
  torch::Tensor forward(const torch::Tensor& x) { return projector(backbone->forward(x)); }
  nets::Backbone backbone;
  nets::MLPHead projector{nullptr};
};
TORCH_MODULE(Branch);

/// Reads method.base_tau_momentum / method.final_tau_momentum and validates them.
struct MomentumSchedule {
  double base = 0.99;
  double final_value = 1.0;
  static MomentumSchedule from_config(const Config& cfg, double base_default = 0.99);
  double at(int64_t step, int64_t total_steps) const {
    return cosine_momentum(base, final_value, step, total_steps);
  }
};

/// What BYOL and MoCo v3 share: an online branch with a predictor, and a momentum target copy of
/// the branch moved towards it after each optimizer step on the cosine schedule. Registers
/// "online", "target" and "predictor" on the owning method (whose checkpoint then holds them).
/// The predictor maps the projection back to its own size: `pred.out` is ignored.
class OnlinePredictorTarget {
 public:
  OnlinePredictorTarget(torch::nn::Module& owner, const Config& cfg, const DataSpec& spec, const HeadDefaults& proj,
                        HeadDefaults pred);
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

 private:
  MomentumSchedule momentum_;
  double tau_;
  Branch online_{nullptr}, target_{nullptr};
  nets::MLPHead predictor_{nullptr};
};

}  // namespace selfsup::methods
