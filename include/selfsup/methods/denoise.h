#pragma once
// What the denoising methods share: the U-Net (nets/unet.h) that maps a noisy image to a clean
// one, and what each trains against. A batch's views[0] is the noisy patch; views[1], when the
// method asks for a target, is its clean patch (n2c) or a second, independently noisy copy (n2n).
// Methods that learn from single noisy images (n2v, nb2nb) ask for none. A method is a small file
// in src/methods/denoise/.
#include <torch/torch.h>

#include "selfsup/methods/keys.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/unet.h"

namespace selfsup::methods {

enum class DenoiseTarget { kNone, kClean, kNoisy };

class DenoiseMethodImpl : public MethodImpl {
 public:
  /// model.unet_width and model.unet_depth (nets::UNetOptions).
  static KeySet net_keys();

  DenoiseMethodImpl(const MethodConfig& cfg, const DataSpec& spec);

  /// What the loader puts in views[1].
  virtual DenoiseTarget target() const = 0;
  int64_t num_views() const override { return target() == DenoiseTarget::kNone ? 1 : 2; }
  /// A denoiser has no encoder to evaluate.
  nets::Backbone encoder() const override { return nullptr; }
  /// Keeps the step counter (in the checkpoint): per-step randomness and gamma's ramp read it.
  void after_optimizer_step(int64_t step, int64_t total_steps) override;

  /// Denoised images [N, C, H, W] of noisy ones of any size of at least net->min_size().
  torch::Tensor denoise(const torch::Tensor& noisy) { return net->forward(noisy); }

  nets::UNet net{nullptr};

 protected:
  /// The noisy patches of a batch, checked.
  const torch::Tensor& noisy_of(const Batch& b, const char* method) const;
  /// The 0-based step of the batch being trained and the schedule's length.
  int64_t step() const { return progress_[0].item<int64_t>(); }
  int64_t total_steps() const { return progress_[1].item<int64_t>(); }
  /// A CPU generator for this step's draws (a pure function of the run's seed, the stream and
  /// the step).
  torch::Generator step_generator(const char* stream) const;

 private:
  uint64_t seed_ = 0;
  torch::Tensor progress_;  // {step, total_steps}
};
using DenoiseMethod = std::shared_ptr<DenoiseMethodImpl>;

/// Builds the denoising method named by method.name.
DenoiseMethod make_denoise_method(const Config& cfg, const DataSpec& spec);

}  // namespace selfsup::methods
