// FixMatch (Sohn et al. 2020): the weak view's confident prediction (max prob >= tau) is the hard
// pseudo-label of the strong view; lambda_u 1, no ramp (USB).
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class FixMatchImpl : public SemiMethodImpl {
 public:
  FixMatchImpl(const Config& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec, 1.0, 0.0) {
    options_.threshold(cfg.get<double>("method.threshold", 0.95)).masked_mean(masked_mean_);
    read_distribution_alignment(cfg, spec);
    read_class_contrast(cfg);
    TORCH_CHECK(options_.threshold() >= 0 && options_.threshold() <= 1, "method.threshold must be in [0, 1], got ",
                options_.threshold());
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "fixmatch");
    auto f = forward_together_with_features({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    const auto& l = f.logits;
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = target_logits(l[1]);
    auto u = functional::pseudo_label_loss(l[2], targets, options_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, u.pseudo.labels, u.pseudo.mask, b);
    auto out = combine(sup, u.loss, std::move(m));
    add_class_contrast(out, f.features[1], f.features[2], targets);
    return out;
  }

 private:
  functional::PseudoLabelOptions options_;
};

SELFSUP_REGISTER_METHOD("fixmatch", "FixMatch: confident weak-view pseudo-labels train the strong view (Sohn et al. 2020)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<FixMatchImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
