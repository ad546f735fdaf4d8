// FlexMatch (Zhang et al. 2021): FixMatch with class-wise thresholds that rise as each class
// gets learned (curriculum pseudo-labeling). The thresholds and the memory behind them are
// buffers of the method, so they are saved with the checkpoint and a resumed run continues them.
#include "selfsup/losses/flexmatch.h"
#include "selfsup/dist/dist.h"
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class FlexMatchImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.0}))
        .add(masked_mean_keys())
        .add("method.threshold", 0.95, "the threshold of a fully learned class")
        .add("method.threshold_warmup", true, "count the unused unlabeled images as a class while warming up")
        .add("method.mapping", std::string("convex"), "how a class's learning effect maps to its threshold: convex, linear or concave")
        .add(DistAlign::keys(false))
        .add(ClassContrast::keys());
  }
  FlexMatchImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec),
        thresholds_(register_module("thresholds", losses::FlexMatchThresholds(thresholds_options(cfg, spec)))),
        align_(*this, cfg, spec),
        contrast_(*this, cfg, student->backbone->feature_dim()),
        masked_mean_(functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean"), "method.masked_mean")) {}
  std::optional<double> confidence_threshold() const override { return thresholds_->options.threshold(); }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "flexmatch");
    auto f = forward_together_with_features({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    const auto& l = f.logits;
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = align_.targets(l[1]);
    // Mask with the thresholds from before this batch, then record its confident predictions.
    auto pseudo = functional::hard_pseudo_labels(targets, thresholds_->thresholds);
    auto unsup = functional::masked_cross_entropy(l[2], pseudo.labels, pseudo.mask, masked_mean_);
    // The memory behind the thresholds records every rank's images, so every rank holds the same.
    thresholds_->update(dist::all_gather(pseudo.confidence), dist::all_gather(pseudo.labels),
                        dist::all_gather(b.unlabeled_indices));
    std::map<std::string, double> m;
    log_pseudo_labels(m, pseudo.labels, pseudo.mask, b);
    m["mean_threshold"] = thresholds_->thresholds.mean().item<double>();
    auto out = combine(sup, unsup, std::move(m));
    contrast_.add(out, f.features[1], f.features[2], targets);
    return out;
  }

 private:
  static functional::FlexMatchThresholdsOptions thresholds_options(const MethodConfig& cfg, const DataSpec& spec) {
    TORCH_CHECK(spec.num_unlabeled > 0, "flexmatch needs the size of the unlabeled set (run it with `selfsup semi`)");
    return functional::FlexMatchThresholdsOptions(spec.num_unlabeled, spec.num_classes)
        .threshold(cfg.get<double>("method.threshold"))
        .warmup(cfg.get<bool>("method.threshold_warmup"))
        .mapping(functional::parse_flexmatch_mapping(cfg.get<std::string>("method.mapping"), "method.mapping"));
  }
  losses::FlexMatchThresholds thresholds_;
  DistAlign align_;
  ClassContrast contrast_;
  functional::MaskedMean masked_mean_;
};

SELFSUP_REGISTER_METHOD(FlexMatchImpl, "flexmatch", Kind::kSemiSupervised,
                        "FlexMatch: FixMatch with class-wise curriculum thresholds (Zhang et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
