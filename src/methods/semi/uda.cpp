// UDA (Xie et al. 2020): the weak view's prediction, sharpened (T 0.4) and kept where confident
// (>= 0.8), is the soft target of the strong view; lambda_u 1, no ramp (USB).
#include "selfsup/losses/uda.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class UDAImpl : public SemiMethodImpl {
 public:
  UDAImpl(const Config& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec, 1.0, 0.0) {
    options_.temperature(cfg.get<double>("method.temperature", 0.4))
        .threshold(cfg.get<double>("method.threshold", 0.8))
        .masked_mean(masked_mean_);
    read_distribution_alignment(cfg, spec);
  }
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "uda");
    auto l = forward_together({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto targets = target_logits(l[1]);
    auto u = functional::uda_loss(l[2], targets, options_);
    std::map<std::string, double> m;
    log_pseudo_labels(m, targets.argmax(1), u.mask, b);
    return combine(sup, u.loss, std::move(m));
  }

 private:
  functional::UDAOptions options_;
};

SELFSUP_REGISTER_METHOD("uda", "UDA: sharpened, confidence-masked weak-view targets for the strong view (Xie et al. 2020)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<UDAImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
