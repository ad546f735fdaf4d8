// VICReg (Bardes et al. 2022): invariance + variance + covariance terms on the projections.
#include "selfsup/losses/vicreg.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class VICRegImpl : public MethodImpl {
 public:
  VICRegImpl(const Config& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg, spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim(), {2048, 2048, 3}));
    options_.sim_weight(cfg.get<double>("method.sim_loss_weight", 25.0))
        .var_weight(cfg.get<double>("method.var_loss_weight", 25.0))
        .cov_weight(cfg.get<double>("method.cov_loss_weight", 1.0));
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

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  functional::VICRegOptions options_;
};

SELFSUP_REGISTER_METHOD("vicreg", "VICReg: variance-invariance-covariance regularisation (Bardes et al. 2022)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<VICRegImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
