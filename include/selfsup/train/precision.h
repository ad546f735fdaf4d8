#pragma once
// Mixed precision for a training step: LibTorch's autocast, the C++ side of torch.autocast.
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <torch/version.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

/// What a run trains in, and how that was decided. `precision: auto` times a few training steps
/// in each precision the device computes natively and keeps the faster: bf16 is 13% faster than
/// fp32 on one AVX-512 BF16 CPU and 38% slower on another, so no fixed default suits both.
struct PrecisionChoice {
  std::string precision = "fp32";  // fp32 | bf16: what the steps run in
  std::string source = "config";   // config | probe | cache | only (one native precision) | short (run)
  std::map<std::string, double> images_per_second = {};  // per precision, from the probe (or the cache)
  double probe_seconds = 0;
  std::string cache_file = {};
  nlohmann::json to_json() const;
  /// One line for the log: the choice, the rates and where it came from.
  std::string describe() const;
};

/// The precisions `device` computes natively: fp32, and bf16 on a CUDA device or on a CPU with
/// AVX512-BF16 / AMX-BF16 (elsewhere oneDNN emulates bf16, tens of times slower).
std::vector<std::string> native_precisions(c10::DeviceType device);

/// The faster of the measured precisions (images per second); fp32 on a tie.
std::string faster_precision(const std::map<std::string, double>& images_per_second);

/// The file of this machine's precision decisions: $SELFSUP_CACHE_DIR/precision.json, else under
/// $XDG_CACHE_HOME/selfsup or $HOME/.cache/selfsup; empty when none of them is set.
std::string precision_cache_path();

/// The key of one decision: the CPU's model and flags, LibTorch's version, the thread and process
/// counts, the device and `shape` (the method, its parameters' and its batch's shapes): a change
/// to any of them may change which precision is faster.
std::string precision_cache_key(const std::string& shape, c10::DeviceType device);

/// The decision cached under `key`, if any. A cache that cannot be read or parsed is ignored
/// with a warning: it only saves the probe's seconds.
std::optional<PrecisionChoice> read_precision_cache(const std::string& path, const std::string& key);

/// Adds (or replaces) the decision under `key`, writing the file atomically; a cache that cannot
/// be written is skipped with a warning.
void write_precision_cache(const std::string& path, const std::string& key, const PrecisionChoice& choice);

}  // namespace selfsup::train
