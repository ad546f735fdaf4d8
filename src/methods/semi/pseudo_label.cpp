// Pseudo-Label (Lee 2013): the model's own confident prediction (>= 0.95) on an unlabeled image
// is its hard label; the weight ramps up over the first 40% of training (USB).
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class PseudoLabelImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.4}))
        .add(masked_mean_keys())
        .add("method.threshold", 0.95, "confidence a prediction needs to become a pseudo-label");
  }
  PseudoLabelImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {
    options_.threshold(cfg.get<double>("method.threshold"))
        .masked_mean(functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean"), "method.masked_mean"));
    TORCH_CHECK(options_.threshold() >= 0 && options_.threshold() <= 1, "method.threshold must be in [0, 1], got ",
                options_.threshold());
  }
  std::optional<double> confidence_threshold() const override { return options_.threshold(); }
  std::vector<std::string> unlabeled_views() const override { return {"weak"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 1, "pseudo_label");
    auto l = forward_together({b.views[0], b.unlabeled_views[0]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto u = functional::pseudo_label_loss(l[1], l[1], options_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, u.pseudo.labels, u.pseudo.mask, b);
    return combine(sup, u.loss, std::move(m));
  }

 private:
  functional::PseudoLabelOptions options_;
};

SELFSUP_REGISTER_METHOD(PseudoLabelImpl, "pseudo_label", Kind::kSemiSupervised,
                        "Pseudo-Label: confident own predictions as hard labels (Lee 2013)");

}  // namespace
}  // namespace selfsup::methods
