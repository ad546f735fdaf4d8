// BYOL (Grill et al. 2020): the online branch predicts the momentum target's projection of the
// other view; 2 - 2 cos, summed over both view orders.
#include "selfsup/losses/byol.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class BYOLImpl : public MethodImpl {
 public:
  BYOLImpl(const Config& cfg, const DataSpec& spec) : momentum_(MomentumSchedule::from_config(cfg)) {
    const HeadDefaults proj{4096, 256, 2};
    online_ = register_module("online", Branch(cfg, spec.channels, spec.image_size, proj));
    target_ = register_module("target", Branch(cfg, spec.channels, spec.image_size, proj));
    const int64_t d = cfg.get<int64_t>("method.proj_output_dim", proj.out);
    predictor_ = register_module("predictor", make_head(cfg, "pred", d, {4096, d, 2}));
    init_momentum_target(*target_, *online_);
  }
  StepOutput training_step(const Batch& b) override {
    auto x = torch::cat({b.views[0], b.views[1]});
    auto z = online_(x);
    auto p = predictor_(z).chunk(2);
    torch::Tensor zt;
    {
      torch::NoGradGuard no_grad;
      zt = target_(x);
    }
    auto t = zt.chunk(2);
    auto loss = functional::byol_loss(p[0], t[1]) + functional::byol_loss(p[1], t[0]);
    return {loss, {{"z_std", normalized_std(z.chunk(2)[0])}, {"tau", tau_}}};
  }
  void after_optimizer_step(int64_t step, int64_t total) override {
    // Stateless in the step, so a resumed run uses the same coefficient as an uninterrupted one.
    tau_ = momentum_.at(step - 1, total);
    momentum_update(*target_, *online_, tau_);
  }
  nets::Backbone encoder() const override { return online_->backbone; }

 private:
  MomentumSchedule momentum_;
  double tau_ = momentum_.base;
  Branch online_{nullptr}, target_{nullptr};
  nets::MLPHead predictor_{nullptr};
};

SELFSUP_REGISTER_METHOD("byol", "BYOL: predict a momentum target's projection of the other view (Grill et al. 2020)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<BYOLImpl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
