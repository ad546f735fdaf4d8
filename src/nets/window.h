#pragma once
// The maximum of a 2x2 window under torch's max-pool rule (private to src/nets): scanned in
// row-major order, a later element wins if it is greater or NaN, so NaN propagates and ties
// keep the first. Written with selects, so that loops over windows vectorise.

namespace selfsup::nets::detail {

template <typename T>
inline T window_max(T a, T b, T c, T d) {
  T best = a;
  best = (b > best) | (b != b) ? b : best;
  best = (c > best) | (c != c) ? c : best;
  best = (d > best) | (d != d) ? d : best;
  return best;
}

}  // namespace selfsup::nets::detail
