#pragma once
// Mixed precision for a training step: LibTorch's autocast, the C++ side of torch.autocast.
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <torch/version.h>

// LibTorch 2.4 replaced the per-backend autocast switches by ones that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SELFSUP_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace selfsup::train {

/// While alive, convolutions and matmuls on `device` run in bf16; reductions, softmax,
/// normalisation and the losses stay fp32 (autocast's op lists), and parameters and optimizer
/// state remain fp32. Inactive when `bf16` is false. The destructor switches autocast off and
/// drops its cast cache, also when the step throws.
class AutocastScope {
 public:
  AutocastScope(bool bf16, c10::DeviceType device) : device_(device), active_(bf16) {
    if (!active_) return;
#ifdef SELFSUP_AUTOCAST_BY_DEVICE_TYPE
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::set_autocast_enabled(device_, true);
#else
    if (device_ == c10::DeviceType::CUDA) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
  }
  ~AutocastScope() {
    if (!active_) return;
#ifdef SELFSUP_AUTOCAST_BY_DEVICE_TYPE
    at::autocast::set_autocast_enabled(device_, false);
#else
    if (device_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(false);
    } else {
      at::autocast::set_cpu_enabled(false);
    }
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool active_;
};

}  // namespace selfsup::train
