// FlexMatch (Zhang et al. 2021): FixMatch with class-wise thresholds that rise as each class
// gets learned (curriculum pseudo-labeling). The thresholds and the memory behind them are
// buffers of the method, so they are saved with the checkpoint and a resumed run continues them.
#include "selfsup/losses/flexmatch.h"
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class FlexMatchImpl : public SemiMethodImpl {
 public:
  FlexMatchImpl(const Config& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec, 1.0, 0.0) {
    TORCH_CHECK(spec.num_unlabeled > 0, "flexmatch needs the size of the unlabeled set (run it with `selfsup semi`)");
    auto o = functional::FlexMatchThresholdsOptions(spec.num_unlabeled, spec.num_classes)
                 .threshold(cfg.get<double>("method.threshold", 0.95))
                 .warmup(cfg.get<bool>("method.threshold_warmup", true))
                 .mapping(functional::parse_flexmatch_mapping(cfg.get<std::string>("method.mapping", "convex"),
                                                              "method.mapping"));
    thresholds_ = register_module("thresholds", losses::FlexMatchThresholds(o));
    read_distribution_alignment(cfg, spec);
    read_class_contrast(cfg);
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "flexmatch");
    auto f = forward_together_with_features({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    const auto& l = f.logits;
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = target_logits(l[1]);
    // Mask with the thresholds from before this batch, then record its confident predictions.
    auto pseudo = functional::hard_pseudo_labels(targets, thresholds_->thresholds);
    auto unsup = functional::masked_cross_entropy(l[2], pseudo.labels, pseudo.mask, masked_mean_);
    thresholds_->update(pseudo.confidence, pseudo.labels, b.unlabeled_indices);
    std::map<std::string, double> m;
    log_pseudo_labels(m, pseudo.labels, pseudo.mask, b);
    m["mean_threshold"] = thresholds_->thresholds.mean().item<double>();
    auto out = combine(sup, unsup, std::move(m));
    add_class_contrast(out, f.features[1], f.features[2], targets);
    return out;
  }

 private:
  losses::FlexMatchThresholds thresholds_{nullptr};
};

SELFSUP_REGISTER_METHOD("flexmatch", "FlexMatch: FixMatch with class-wise curriculum thresholds (Zhang et al. 2021)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<FlexMatchImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
