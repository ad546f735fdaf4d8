// Pseudo-Label (Lee 2013): the model's own confident prediction (>= 0.95) on an unlabeled image
// is its hard label; the weight ramps up over the first 40% of training (USB).
#include "selfsup/losses/pseudo_label.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class PseudoLabelImpl : public SemiMethodImpl {
 public:
  PseudoLabelImpl(const Config& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec, 1.0, 0.4) {
    options_.threshold(cfg.get<double>("method.threshold", 0.95)).masked_mean(masked_mean_);
  }
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

SELFSUP_REGISTER_METHOD("pseudo_label", "Pseudo-Label: confident own predictions as hard labels (Lee 2013)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<PseudoLabelImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
