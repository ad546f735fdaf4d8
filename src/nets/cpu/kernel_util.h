#pragma once
// What the ConvNet's CPU kernels share (private to src/nets/cpu).

#include <cstdint>
#include <type_traits>

#include "selfsup/core/runtime.h"

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

// Kernels are compiled for AVX-512, AVX2 and plain x86-64 and picked at run time by cpu_isa()
// (core/runtime.h): the build targets plain x86-64 (SSE2), which leaves most of these CPUs'
// vector width unused. GCC's target_clones would pick by itself, but by the CPU alone, leaving
// the lower versions untested on a newer machine; SELFSUP_CPU_ISA lowers cpu_isa().
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SELFSUP_KERNEL_VERSIONS 1
#define SELFSUP_TARGET_AVX512 __attribute__((target("avx512f")))
#define SELFSUP_TARGET_AVX2 __attribute__((target("avx2")))
#endif

// For a function that a versioned kernel must inline (so that it is compiled for the version's ISA).
#if defined(__GNUC__)
#define SELFSUP_ALWAYS_INLINE __attribute__((always_inline))
#else
#define SELFSUP_ALWAYS_INLINE
#endif

#ifdef SELFSUP_KERNEL_VERSIONS
template <typename Body>
SELFSUP_TARGET_AVX512 void for_each_avx512(int64_t begin, int64_t end, const Body& body) {
  for (int64_t p = begin; p < end; ++p) body(p);
}
template <typename Body>
SELFSUP_TARGET_AVX2 void for_each_avx2(int64_t begin, int64_t end, const Body& body) {
  for (int64_t p = begin; p < end; ++p) body(p);
}
template <typename Fn>
SELFSUP_TARGET_AVX512 void call_avx512(const Fn& fn) {
  fn();
}
template <typename Fn>
SELFSUP_TARGET_AVX2 void call_avx2(const Fn& fn) {
  fn();
}
#endif

// body(p) for p in [begin, end) in cpu_isa()'s version, the body (declared
// SELFSUP_ALWAYS_INLINE) inlined into each.
template <typename Body>
inline void for_each_cloned(int64_t begin, int64_t end, const Body& body) {
#ifdef SELFSUP_KERNEL_VERSIONS
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return for_each_avx512(begin, end, body);
    case CpuIsa::kAvx2:
      return for_each_avx2(begin, end, body);
    case CpuIsa::kBaseline:
      break;
  }
#endif
  for (int64_t p = begin; p < end; ++p) body(p);
}

// fn() in cpu_isa()'s version, fn (declared SELFSUP_ALWAYS_INLINE) inlined into each.
template <typename Fn>
inline void call_cloned(const Fn& fn) {
#ifdef SELFSUP_KERNEL_VERSIONS
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return call_avx512(fn);
    case CpuIsa::kAvx2:
      return call_avx2(fn);
    case CpuIsa::kBaseline:
      break;
  }
#endif
  fn();
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
