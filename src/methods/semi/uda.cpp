// UDA (Xie et al. 2020): the weak view's prediction, sharpened (T 0.4) and kept where confident
// (>= 0.8), is the soft target of the strong view; lambda_u 1, no ramp (USB).
#include "selfsup/losses/uda.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class UDAImpl : public SemiMethodImpl {
 public:
  static KeySet keys() {
    return classifier_keys()
        .add(unlabeled_keys({1.0, 0.0}))
        .add(masked_mean_keys())
        .add("method.temperature", 0.4, "sharpening temperature of the weak view's prediction")
        .add("method.threshold", 0.8, "confidence a weak-view prediction needs to become a target")
        .add(DistAlign::keys(false));
  }
  UDAImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec), align_(*this, cfg, spec) {
    options_.temperature(cfg.get<double>("method.temperature"))
        .threshold(cfg.get<double>("method.threshold"))
        .masked_mean(functional::parse_masked_mean(cfg.get<std::string>("method.masked_mean"), "method.masked_mean"));
  }
  std::optional<double> confidence_threshold() const override { return options_.threshold(); }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "uda");
    auto l = forward_together({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = align_.targets(l[1]);
    auto u = functional::uda_loss(l[2], targets, options_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, targets.argmax(1), u.mask, b);
    return combine(sup, u.loss, std::move(m));
  }

 private:
  functional::UDAOptions options_;
  DistAlign align_;
};

SELFSUP_REGISTER_METHOD(UDAImpl, "uda", Kind::kSemiSupervised,
                        "UDA: sharpened, confidence-masked weak-view targets for the strong view (Xie et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
