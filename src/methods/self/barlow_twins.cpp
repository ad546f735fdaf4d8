// Barlow Twins (Zbontar et al. 2021): drive the cross-correlation of the two views' standardized
// projections to the identity; no negatives, no momentum encoder.
#include "selfsup/losses/barlow_twins.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class BarlowTwinsImpl : public MethodImpl {
 public:
  BarlowTwinsImpl(const Config& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg, spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim(), {2048, 2048, 3}));
    options_.lambda(cfg.get<double>("method.lambda", 0.0051)).scale(cfg.get<double>("method.scale_loss", 0.1));
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]}))).chunk(2);
    // The cross-correlation (and its batch standardisation) is over the global batch.
    auto loss = functional::barlow_twins_loss(dist::all_gather(z[0]), dist::all_gather(z[1]), options_);
    return {loss, {{"z_std", normalized_std(z[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  functional::BarlowTwinsOptions options_;
};

SELFSUP_REGISTER_METHOD("barlow_twins", "Barlow Twins: cross-correlation of two views driven to the identity (Zbontar et al. 2021)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<BarlowTwinsImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
