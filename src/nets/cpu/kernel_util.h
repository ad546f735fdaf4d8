#pragma once
// What the ConvNet's CPU kernels share (private to src/nets/cpu).

#include <cstdint>
#include <type_traits>

namespace selfsup::nets::cpu {

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
  best = ((b > best) | (b != b)) ? b : best;
  best = ((c > best) | (c != c)) ? c : best;
  best = ((d > best) | (d != d)) ? d : best;
  return best;
}

// A kernel compiled for AVX-512, AVX2 and plain x86-64, the best picked once at load time: the
// build targets plain x86-64 (SSE2), which leaves most of these CPUs' vector width unused.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SELFSUP_KERNEL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SELFSUP_KERNEL_CLONES
#endif

// For a function that a cloned kernel must inline (so that it is compiled for the clone's ISA).
#if defined(__GNUC__)
#define SELFSUP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define SELFSUP_ALWAYS_INLINE
#endif

// body(p) for p in [begin, end), compiled for AVX-512, AVX2 and x86-64 with the body (declared
// SELFSUP_ALWAYS_INLINE) inlined into each.
template <typename Body>
SELFSUP_KERNEL_CLONES void for_each_cloned(int64_t begin, int64_t end, const Body& body) {
  for (int64_t p = begin; p < end; ++p) body(p);
}

// The loop over a kernel's blocks of L channels. With L = 16 (nChw16c) the inner loops run over
// the 16 lanes and gain from the wider ISAs; with L = 1 (NCHW planes) they run over pixels, often
// with a stride of 2 (pooling), where GCC's AVX2 and AVX-512 versions ran up to 2.5x slower than
// its baseline SSE2 code, so those stay baseline.
template <int L, typename Body>
inline void for_each_block(int64_t begin, int64_t end, const Body& body) {
  if constexpr (L == 16) {
    for_each_cloned(begin, end, body);
  } else {
    for (int64_t p = begin; p < end; ++p) body(p);
  }
}

}  // namespace selfsup::nets::cpu
