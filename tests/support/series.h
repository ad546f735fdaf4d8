#pragma once
// Means over windows of a run's per-step series (losses, metrics): "did it fall" tests compare
// the first steps with the last.
#include <cstddef>
#include <vector>

namespace selfsup::testing {

/// Mean of v[from, to).
inline double window_mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}

}  // namespace selfsup::testing
