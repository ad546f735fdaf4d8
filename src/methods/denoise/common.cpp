#include "selfsup/core/runtime.h"
#include "selfsup/methods/denoise.h"

namespace selfsup::methods {

KeySet DenoiseMethodImpl::net_keys() {
  const nets::UNetOptions defaults;
  return KeySet()
      .add("model.unet_width", defaults.width(), "channels of the U-Net's encoder levels (the decoder has twice as many)")
      .add("model.unet_depth", defaults.depth(), "2x2 poolings of the U-Net (inputs are padded to a multiple of 2^depth)");
}

DenoiseMethodImpl::DenoiseMethodImpl(const MethodConfig& cfg, const DataSpec& spec) : seed_(spec.seed) {
  net = register_module("net", nets::UNet(nets::UNetOptions(spec.channels)
                                              .width(cfg.get<int64_t>("model.unet_width"))
                                              .depth(cfg.get<int64_t>("model.unet_depth"))));
  progress_ = register_buffer("progress", torch::tensor({int64_t{0}, int64_t{1}}, torch::kLong));
}

void DenoiseMethodImpl::after_optimizer_step(int64_t step, int64_t total_steps) {
  progress_[0] = step;
  progress_[1] = std::max<int64_t>(total_steps, 1);
}

const torch::Tensor& DenoiseMethodImpl::noisy_of(const Batch& b, const char* method) const {
  TORCH_CHECK(static_cast<int64_t>(b.views.size()) == num_views(), method, " expects ", num_views(),
              " views per batch (the noisy patch", num_views() == 2 ? " and its target" : "", "), got ", b.views.size());
  return b.views[0];
}

torch::Generator DenoiseMethodImpl::step_generator(const char* stream) const {
  return make_generator(derive_seed(seed_, stream) + static_cast<uint64_t>(step()));
}

DenoiseMethod make_denoise_method(const Config& cfg, const DataSpec& spec) {
  auto m = std::dynamic_pointer_cast<DenoiseMethodImpl>(make_method(cfg, spec, {Kind::kDenoising}));
  TORCH_CHECK(m, "method '", cfg.get<std::string>("method.name", ""), "' is not a denoiser");
  return m;
}

}  // namespace selfsup::methods
