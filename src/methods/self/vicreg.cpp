// VICReg (Bardes et al. 2022): invariance + variance + covariance terms on the projections.
#include "selfsup/losses/vicreg.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class VICRegImpl : public MethodImpl {
 public:
  static KeySet keys() {
    return head_keys("proj", {2048, 2048, 3})
        .add("method.sim_loss_weight", 25.0, "weight of the invariance term")
        .add("method.var_loss_weight", 25.0, "weight of the variance term")
        .add("method.cov_loss_weight", 1.0, "weight of the covariance term");
  }
  VICRegImpl(const MethodConfig& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim()));
    options_.sim_weight(cfg.get<double>("method.sim_loss_weight"))
        .var_weight(cfg.get<double>("method.var_loss_weight"))
        .cov_weight(cfg.get<double>("method.cov_loss_weight"));
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]}))).chunk(2);
    // Variance and covariance are statistics of the global batch.
    auto r = functional::vicreg_loss(dist::all_gather(z[0]), dist::all_gather(z[1]), options_);
    return {r.loss,
            {{"invariance", r.invariance.item<double>()},
             {"variance", r.variance.item<double>()},
             {"covariance", r.covariance.item<double>()},
             {"z_std", normalized_std(z[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }
  nets::MLPHead projector() const override { return projector_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  functional::VICRegOptions options_;
};

SELFSUP_REGISTER_METHOD(VICRegImpl, "vicreg", Kind::kSelfSupervised,
                        "VICReg: variance-invariance-covariance regularisation (Bardes et al. 2022)");

}  // namespace
}  // namespace selfsup::methods
