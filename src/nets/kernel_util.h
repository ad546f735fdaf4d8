#pragma once
// What the ConvNet's CPU kernels share (private to src/nets).

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <type_traits>

namespace selfsup::nets::detail {

/// The type a kernel computes in for storage type S: double for double, float otherwise (bf16
/// is converted once per element).
template <typename S>
using Acc = std::conditional_t<std::is_same<S, double>::value, double, float>;

// The maximum of a 2x2 window under torch's max-pool rule: scanned in row-major order, a later
// element wins if it is greater or NaN, so NaN propagates and ties keep the first. Written with
// selects, so that loops over windows vectorise.
template <typename T>
inline T window_max(T a, T b, T c, T d) {
  T best = a;
  best = (b > best) | (b != b) ? b : best;
  best = (c > best) | (c != c) ? c : best;
  best = (d > best) | (d != d) ? d : best;
  return best;
}

/// Whether CPU autocast is on: the kernels then fall back to torch's ops, which autocast casts.
inline bool autocast_on() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

}  // namespace selfsup::nets::detail
