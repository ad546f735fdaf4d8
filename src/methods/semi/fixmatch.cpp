// FixMatch (Sohn et al. 2020): the weak view's confident prediction (max prob >= tau) is the hard
// pseudo-label of the strong view; lambda_u 1, no ramp (USB).
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class FixMatchImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.0}))
        .add(masked_mean_keys())
        .add("method.threshold", 0.95, "confidence a weak-view prediction needs to become a pseudo-label")
        .add(DistAlign::keys(false))
        .add(ClassContrast::keys());
  }
  FixMatchImpl(const MethodConfig& cfg, const DataSpec& spec)
      : SemiMethodImpl(cfg, spec), align_(*this, cfg, spec), contrast_(*this, cfg, student->backbone->feature_dim()) {
    options_.threshold(cfg.get<double>("method.threshold"))
        .masked_mean(functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean"), "method.masked_mean"));
    TORCH_CHECK(options_.threshold() >= 0 && options_.threshold() <= 1, "method.threshold must be in [0, 1], got ",
                options_.threshold());
  }
  std::optional<double> confidence_threshold() const override { return options_.threshold(); }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "fixmatch");
    auto f = forward_together_with_features({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    const auto& l = f.logits;
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = align_.targets(l[1]);
    auto u = functional::pseudo_label_loss(l[2], targets, options_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, u.pseudo.labels, u.pseudo.mask, b);
    auto out = combine(sup, u.loss, std::move(m));
    contrast_.add(out, f.features[1], f.features[2], targets);
    return out;
  }

 private:
  functional::PseudoLabelOptions options_;
  DistAlign align_;
  ClassContrast contrast_;
};

SELFSUP_REGISTER_METHOD(FixMatchImpl, "fixmatch", Kind::kSemiSupervised,
                        "FixMatch: confident weak-view pseudo-labels train the strong view (Sohn et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
