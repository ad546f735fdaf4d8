// Noise2Noise (Lehtinen et al. 2018): the squared error against a second noisy copy of the same
// patch with independent zero-mean noise, whose expected minimiser is the clean patch.
#include "selfsup/methods/denoise.h"

namespace selfsup::methods {
namespace {

class Noise2NoiseImpl : public DenoiseMethodImpl {
 public:
  static KeySet keys() { return net_keys(); }
  Noise2NoiseImpl(const MethodConfig& cfg, const DataSpec& spec) : DenoiseMethodImpl(cfg, spec) {}
  DenoiseTarget target() const override { return DenoiseTarget::kNoisy; }
  StepOutput training_step(const Batch& b) override {
    const auto& noisy = noisy_of(b, "n2n");
    return {torch::mse_loss(denoise(noisy), b.views[1]), {}};
  }
};

SELFSUP_REGISTER_METHOD(Noise2NoiseImpl, "n2n", Kind::kDenoising,
                        "Noise2Noise: squared error against a second, independently noisy copy");

}  // namespace
}  // namespace selfsup::methods
