#pragma once
// Mixed precision for a training step: LibTorch's autocast, the C++ side of torch.autocast.
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>

namespace selfsup::train {

/// While alive, convolutions and matmuls on `device` run in bf16; reductions, softmax,
/// normalisation and the losses stay fp32 (autocast's op lists), and parameters and optimizer
/// state remain fp32. Inactive when `bf16` is false. The destructor switches autocast off and
/// drops its cast cache, also when the step throws.
class AutocastScope {
 public:
  AutocastScope(bool bf16, c10::DeviceType device) : cuda_(device == c10::DeviceType::CUDA), active_(bf16) {
    if (!active_) return;
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastScope() {
    if (!active_) return;
    if (cuda_) {
      at::autocast::set_enabled(false);
    } else {
      at::autocast::set_cpu_enabled(false);
    }
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool cuda_, active_;
};

}  // namespace selfsup::train
