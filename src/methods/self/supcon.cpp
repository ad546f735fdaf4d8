// Supervised contrastive learning (Khosla et al. 2020): SimCLR's architecture, but every view of
// every image with the same label is a positive (the L_out form of the loss).
#include "selfsup/losses/supcon.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class SupConImpl : public MethodImpl {
 public:
  static KeySet keys() {
    return head_keys("proj", {2048, 256, 2}).add("method.temperature", 0.1, "SupCon temperature");
  }
  SupConImpl(const MethodConfig& cfg, const DataSpec& spec) {
    backbone_ = register_module("backbone", nets::make_backbone(cfg.config(), spec.channels, spec.image_size));
    projector_ = register_module("projector", make_head(cfg, "proj", backbone_->feature_dim()));
    temperature_ = cfg.get<double>("method.temperature");
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
  }
  StepOutput training_step(const Batch& b) override {
    TORCH_CHECK(b.labels.defined(), "supcon needs labels in the batch");
    auto z = projector_(backbone_->forward(torch::cat({b.views[0], b.views[1]})));
    // Positives and negatives from every rank, in the global batch's order (view 1, then view 2).
    auto zs = z.chunk(2);
    auto labels_all = dist::all_gather(b.labels);
    auto labels = torch::cat({labels_all, labels_all});
    auto loss = functional::supcon_loss(torch::cat({dist::all_gather(zs[0]), dist::all_gather(zs[1])}), labels,
                                        functional::SupConOptions().temperature(temperature_));
    return {loss, {{"z_std", normalized_std(z)}}};
  }
  nets::Backbone encoder() const override { return backbone_; }
  nets::MLPHead projector() const override { return projector_; }
  bool uses_labels() const override { return true; }

 private:
  nets::Backbone backbone_;
  nets::MLPHead projector_{nullptr};
  double temperature_;
};

SELFSUP_REGISTER_METHOD(SupConImpl, "supcon", Kind::kSelfSupervised,
                        "SupCon: contrastive with every same-label view as a positive (Khosla et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
