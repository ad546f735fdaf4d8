// SimSiam (Chen & He 2021): predictor + stop-gradient, no momentum encoder, no negatives.
#include "selfsup/losses/simsiam.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class SimSiamImpl : public MethodImpl {
 public:
  SimSiamImpl(const Config& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg, spec.channels, spec.image_size));
    // The projector ends in BN (no affine), as in the paper; the predictor is a bottleneck.
    projector_ = register_module("projector",
                                 make_head(cfg, "proj", backbone_->feature_dim(), {2048, 2048, 3, true, true}));
    const int64_t d = cfg.get<int64_t>("method.proj_output_dim", 2048);
    predictor_ = register_module("predictor", make_head(cfg, "pred", d, {512, d, 2}));
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]})));
    auto p = predictor_(z).chunk(2);
    auto zs = z.chunk(2);
    auto loss = 0.5 * (functional::simsiam_loss(p[0], zs[1]) + functional::simsiam_loss(p[1], zs[0]));
    return {loss, {{"z_std", normalized_std(zs[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr}, predictor_{nullptr};
};

SELFSUP_REGISTER_METHOD("simsiam", "SimSiam: predictor + stop-gradient between two views (Chen & He 2021)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<SimSiamImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
