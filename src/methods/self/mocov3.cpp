// MoCo v3 (Chen, Xie & He 2021): the predicted query of one view contrasts with the momentum keys
// of the other view in the batch; no queue.
#include "selfsup/losses/info_nce.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/method.h"

namespace selfsup::methods {
namespace {

class MoCoV3Impl : public MethodImpl {
 public:
  MoCoV3Impl(const Config& cfg, const DataSpec& spec) : momentum_(MomentumSchedule::from_config(cfg)) {
    const HeadDefaults proj{4096, 256, 3, true, true};
    online_ = register_module("online", Branch(cfg, spec.channels, spec.image_size, proj));
    target_ = register_module("target", Branch(cfg, spec.channels, spec.image_size, proj));
    const int64_t d = cfg.get<int64_t>("method.proj_output_dim", proj.out);
    predictor_ = register_module("predictor", make_head(cfg, "pred", d, {4096, d, 2, true, true}));
    init_momentum_target(*target_, *online_);
    options_.temperature(cfg.get<double>("method.temperature", 0.2));
    TORCH_CHECK(options_.temperature() > 0, "method.temperature must be positive, got ", options_.temperature());
  }
  StepOutput training_step(const Batch& b) override {
    auto x = torch::cat({b.views[0], b.views[1]});
    auto z = online_(x);
    auto q = predictor_(z).chunk(2);
    torch::Tensor k;
    {
      torch::NoGradGuard no_grad;
      k = target_(x);
    }
    auto ks = k.chunk(2);
    auto loss = functional::info_nce_in_batch(q[0], ks[1], options_) +
                functional::info_nce_in_batch(q[1], ks[0], options_);
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
  functional::InfoNCEInBatchOptions options_;
};

SELFSUP_REGISTER_METHOD("mocov3", "MoCo v3: predicted queries against in-batch momentum keys (Chen et al. 2021)",
                        [](const Config& c, const DataSpec& s) -> Method { return std::make_shared<MoCoV3Impl>(c, s); });

}  // namespace
}  // namespace selfsup::methods
