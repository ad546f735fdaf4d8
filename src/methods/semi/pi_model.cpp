// Pi-model (Laine & Aila 2017): the prediction on the strong view is pulled towards the
// (stop-gradient) prediction on the weak view by a squared error; weight 10, ramped over the
// first 40% (USB).
#include "selfsup/losses/consistency.h"
#include "selfsup/methods/semi.h"

namespace selfsup::methods {
namespace {

class PiModelImpl : public SemiMethodImpl {
 public:
  static KeySet keys() { return classifier_keys().add(unlabeled_keys({10.0, 0.4})); }
  PiModelImpl(const MethodConfig& cfg, const DataSpec& spec) : SemiMethodImpl(cfg, spec) {}
  std::vector<std::string> unlabeled_views() const override { return {"weak", "strong"}; }
  StepOutput training_step(const Batch& b) override {
    check_unlabeled(b, 2, "pi_model");
    auto l = forward_together({b.views[0], b.unlabeled_views[0], b.unlabeled_views[1]});
    auto sup = torch::nn::functional::cross_entropy(l[0], b.labels);
    auto unsup = functional::softmax_mse_loss(l[2], torch::softmax(l[1].detach(), 1));
    return combine(sup, unsup);
  }
};

SELFSUP_REGISTER_METHOD(PiModelImpl, "pi_model", Kind::kSemiSupervised,
                        "Pi-model: consistency of the strong view with the weak one (Laine & Aila 2017)");

}  // namespace
}  // namespace selfsup::methods
