// Noise2Void (Krull et al. 2019): blind-spot masking of single noisy patches
// (losses/noise2void.h); the loss is the squared error at the masked pixels only.
#include "selfsup/losses/noise2void.h"
#include "selfsup/methods/denoise.h"

namespace selfsup::methods {
namespace {

class Noise2VoidImpl : public DenoiseMethodImpl {
 public:
  static KeySet keys() {
    const losses::BlindSpotOptions d;
    return net_keys()
        .add("method.mask_fraction", d.fraction(), "share of each patch's pixels masked, in (0, 0.25]")
        .add("method.window", d.window(), "side of the window a masked pixel's replacement comes from (odd)");
  }
  Noise2VoidImpl(const MethodConfig& cfg, const DataSpec& spec) : DenoiseMethodImpl(cfg, spec) {
    options_.fraction(cfg.get<double>("method.mask_fraction")).window(cfg.get<int64_t>("method.window"));
    TORCH_CHECK(options_.fraction() > 0 && options_.fraction() <= 0.25,
                "method.mask_fraction must be in (0, 0.25], got ", options_.fraction());
    TORCH_CHECK(options_.window() >= 3 && options_.window() % 2 == 1, "method.window must be odd and >= 3, got ",
                options_.window());
  }
  DenoiseTarget target() const override { return DenoiseTarget::kNone; }
  StepOutput training_step(const Batch& b) override {
    const auto& noisy = noisy_of(b, "n2v");
    auto gen = step_generator("n2v-mask");
    const auto masked = functional::blind_spot(noisy, options_, gen);
    return {functional::masked_mse(denoise(masked.input), noisy, masked.mask), {}};
  }

 private:
  losses::BlindSpotOptions options_;
};

SELFSUP_REGISTER_METHOD(Noise2VoidImpl, "n2v", Kind::kDenoising,
                        "Noise2Void: blind-spot masking, squared error at the masked pixels of single noisy patches");

}  // namespace
}  // namespace selfsup::methods
