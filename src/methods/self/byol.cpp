// BYOL (Grill et al. 2020): the online branch predicts the momentum target's projection of the
// other view; 2 - 2 cos, summed over both view orders.
#include "selfsup/losses/byol.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class BYOLImpl : public MethodImpl {
 public:
  static KeySet keys() { return OnlinePredictorTarget::keys(/*proj=*/{4096, 256, 2}, /*pred=*/{4096, 0, 2}); }
  BYOLImpl(const MethodConfig& cfg, const DataSpec& spec) : branches_(*this, cfg, spec) {}
  StepOutput training_step(const Batch& b) override {
    auto v = branches_.forward(b);
    auto loss = functional::byol_loss(v.predicted[0], v.target[1]) + functional::byol_loss(v.predicted[1], v.target[0]);
    return {loss, {{"z_std", normalized_std(v.z.chunk(2)[0])}, {"tau", branches_.tau()}}};
  }
  void after_optimizer_step(int64_t step, int64_t total) override { branches_.update(step, total); }
  nets::Backbone encoder() const override { return branches_.encoder(); }
  nets::MLPHead projector() const override { return branches_.projector(); }

 private:
  OnlinePredictorTarget branches_;
};

SELFSUP_REGISTER_METHOD(BYOLImpl, "byol", Kind::kSelfSupervised,
                        "BYOL: predict a momentum target's projection of the other view (Grill et al. 2020)");

}  // namespace
}  // namespace selfsup::methods
