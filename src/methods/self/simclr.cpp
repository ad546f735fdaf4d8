// SimCLR (Chen et al. 2020): encoder + MLP projector, NT-Xent between the two views.
#include "selfsup/losses/nt_xent.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class SimCLRImpl : public MethodImpl {
 public:
  static KeySet keys() {
    return head_keys("proj", {2048, 256, 2}).add("method.temperature", 0.2, "NT-Xent temperature");
  }
  SimCLRImpl(const MethodConfig& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim()));
    temperature_ = cfg.get<double>("method.temperature");
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
  }
  StepOutput training_step(const Batch& b) override {
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]})));
    auto zs = z.chunk(2);
    // Negatives from every rank: the loss is that of the global batch.
    auto loss = functional::nt_xent(dist::all_gather(zs[0]), dist::all_gather(zs[1]),
                                    functional::NTXentOptions().temperature(temperature_));
    return {loss, {{"z_std", normalized_std(zs[0])}}};
  }
  nets::Backbone encoder() const override { return backbone_; }
  nets::MLPHead projector() const override { return projector_; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  double temperature_;
};

SELFSUP_REGISTER_METHOD(SimCLRImpl, "simclr", Kind::kSelfSupervised,
                        "SimCLR: NT-Xent contrast between two views (Chen et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
