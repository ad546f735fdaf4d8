// Barlow Twins (Zbontar et al. 2021): drive the cross-correlation of the two views' standardized
// projections to the identity; no negatives, no momentum encoder.
#include "selfsup/losses/barlow_twins.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class BarlowTwinsImpl : public MethodImpl {
 public:
  static KeySet keys() {
    return head_keys("proj", {2048, 2048, 3})
        .add("method.lambda", 0.0051, "weight of the off-diagonal terms")
        .add("method.scale_loss", 0.1, "scale of the whole loss");
  }
  BarlowTwinsImpl(const MethodConfig& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim()));
    options_.lambda(cfg.get<double>("method.lambda")).scale(cfg.get<double>("method.scale_loss"));
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]}))).chunk(2);
    // The cross-correlation (and its batch standardisation) is over the global batch.
    auto loss = functional::barlow_twins_loss(dist::all_gather(z[0]), dist::all_gather(z[1]), options_);
    return {loss, {{"z_std", normalized_std(z[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }
  nets::MLPHead projector() const override { return projector_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  functional::BarlowTwinsOptions options_;
};

SELFSUP_REGISTER_METHOD(BarlowTwinsImpl, "barlow_twins", Kind::kSelfSupervised,
                        "Barlow Twins: cross-correlation of two views driven to the identity (Zbontar et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
