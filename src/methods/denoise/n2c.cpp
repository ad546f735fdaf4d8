// Clean-target training: the squared error against the clean patch. The upper bound the methods
// that never see a clean image are measured against.
#include "selfsup/methods/denoise.h"

namespace selfsup::methods {
namespace {

class Noise2CleanImpl : public DenoiseMethodImpl {
 public:
  static KeySet keys() { return net_keys(); }
  Noise2CleanImpl(const MethodConfig& cfg, const DataSpec& spec) : DenoiseMethodImpl(cfg, spec) {}
  DenoiseTarget target() const override { return DenoiseTarget::kClean; }
  StepOutput training_step(const Batch& b) override {
    const auto& noisy = noisy_of(b, "n2c");
    return {torch::mse_loss(denoise(noisy), b.views[1]), {}};
  }
};

SELFSUP_REGISTER_METHOD(Noise2CleanImpl, "n2c", Kind::kDenoising,
                        "clean targets: squared error against the clean patch (the upper bound; uses clean images)");

}  // namespace
}  // namespace selfsup::methods
