#pragma once
// Process-wide setup every selfsup entry point performs before touching a tensor.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace selfsup {

/// Stops glibc malloc from returning LibTorch's large per-step buffers to the OS (which made every
/// training step page-fault them back in: 4.7x slower here), and sets the intra-op thread count
/// (Debian's LibTorch starts with one). threads <= 0 means "all cores"; more than 4x the cores is
/// refused. Idempotent.
void init_runtime(int threads);

/// The widest vector instruction set this process uses: the CPU's, unless the environment
/// variable SELFSUP_CPU_ISA (avx512 | avx2 | baseline) lowers it, so that one machine can run
/// what an older CPU runs (the CPU kernels' versions, and no native bf16 below AVX-512). A cap,
/// never a demand: the CPU's own limit holds. An unknown value is an error on first use.
enum class CpuIsa : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };
CpuIsa cpu_isa();
/// "avx512", "avx2" or "baseline" (plain x86-64).
const char* cpu_isa_name(CpuIsa isa);

/// Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX-BF16, and
/// cpu_isa() not lowered below AVX-512). Without either, oneDNN emulates bf16 and a bf16 training
/// step runs ~40x slower than in fp32.
bool cpu_has_native_bf16();

/// The CPU's model name and its flags, as /proc/cpuinfo gives them (empty where it cannot be read):
/// what results and benchmarks name beside a speed.
std::string cpu_model_name();
std::string cpu_flags();

/// "cpu", "cuda", "cuda:1"; throws naming the value when it is unknown or unavailable.
torch::Device parse_device(const std::string& name);

/// A CPU generator seeded deterministically; random parameters are drawn on the CPU and moved to
/// the data's device, so a seed gives the same run on any device.
torch::Generator make_generator(uint64_t seed);

/// Seeds LibTorch's global generators (used by parameter initialisation).
void seed_everything(uint64_t seed);

/// Derives an independent seed for a named stream (data order, augmentation, ...).
uint64_t derive_seed(uint64_t seed, const std::string& stream);

}  // namespace selfsup
