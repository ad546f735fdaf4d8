// SimSiam (Chen & He 2021): predictor + stop-gradient, no momentum encoder, no negatives.
#include "selfsup/losses/simsiam.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class SimSiamImpl : public MethodImpl {
 public:
  // The projector ends in BN (no affine), as in the paper; the predictor is a bottleneck that
  // maps back to the projection's width.
  static KeySet keys() {
    return head_keys("proj", {2048, 2048, 3, true, true}).add(head_keys("pred", {512, 0, 2}, /*output_dim=*/false));
  }
  SimSiamImpl(const MethodConfig& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim()));
    predictor_ = register_module("predictor", make_head(cfg, "pred", projector_->options.out_dim()));
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]})));
    auto p = predictor_(z).chunk(2);
    auto zs = z.chunk(2);
    auto loss = 0.5 * (functional::simsiam_loss(p[0], zs[1]) + functional::simsiam_loss(p[1], zs[0]));
    return {loss, {{"z_std", normalized_std(zs[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }
  nets::MLPHead projector() const override { return projector_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr}, predictor_{nullptr};
};

SELFSUP_REGISTER_METHOD(SimSiamImpl, "simsiam", Kind::kSelfSupervised,
                        "SimSiam: predictor + stop-gradient between two views (Chen & He 2021)");

}  // namespace
}  // namespace selfsup::methods
