// Neighbor2Neighbor (Huang et al. 2021; losses/neighbor2neighbor.h): two sub-images of each noisy
// patch from adjacent pixels of its 2x2 cells, one denoised and compared with the other, plus the
// regulariser on the full patch denoised without gradient; gamma ramps linearly from 0 to
// method.gamma over the schedule, as in the paper's code.
#include "selfsup/losses/neighbor2neighbor.h"
#include "selfsup/methods/denoise.h"

namespace selfsup::methods {
namespace {

class Neighbor2NeighborImpl : public DenoiseMethodImpl {
 public:
  static KeySet keys() {
    return net_keys()
        .add("method.gamma", 2.0, "weight of the regulariser at the end of training (>= 0)")
        .add("method.ramp_gamma", true, "ramp gamma linearly from 0 over the schedule (the paper's code); else constant");
  }
  Neighbor2NeighborImpl(const MethodConfig& cfg, const DataSpec& spec)
      : DenoiseMethodImpl(cfg, spec), gamma_(cfg.get<double>("method.gamma")), ramp_(cfg.get<bool>("method.ramp_gamma")) {
    TORCH_CHECK(std::isfinite(gamma_) && gamma_ >= 0, "method.gamma must be >= 0, got ", gamma_);
  }
  DenoiseTarget target() const override { return DenoiseTarget::kNone; }
  StepOutput training_step(const Batch& b) override {
    const auto& noisy = noisy_of(b, "nb2nb");
    auto gen = step_generator("nb2nb-pairs");
    const auto pairs = functional::neighbor_pairs(noisy.size(0), noisy.size(2), noisy.size(3), gen);
    // The pass with gradient first: under autocast the weights' low-precision copies are cached for
    // the step, and a copy made under no_grad would carry no gradient into the later pass.
    const auto denoised_first = denoise(functional::subsample(noisy, pairs.first));
    torch::Tensor denoised;
    {
      torch::NoGradGuard no_grad;
      denoised = denoise(noisy);
    }
    const double gamma = ramp_ ? gamma_ * static_cast<double>(step()) / static_cast<double>(total_steps()) : gamma_;
    const auto l = functional::neighbor2neighbor_loss(denoised_first, functional::subsample(noisy, pairs.second),
                                                      functional::subsample(denoised, pairs.first),
                                                      functional::subsample(denoised, pairs.second), gamma);
    return {l.loss,
            {{"reconstruction", l.reconstruction.item<double>()},
             {"regularization", l.regularization.item<double>()},
             {"gamma", gamma}}};
  }

 private:
  double gamma_;
  bool ramp_;
};

SELFSUP_REGISTER_METHOD(Neighbor2NeighborImpl, "nb2nb", Kind::kDenoising,
                        "Neighbor2Neighbor: sub-images from neighbouring pixels, with the paper's regulariser");

}  // namespace
}  // namespace selfsup::methods
