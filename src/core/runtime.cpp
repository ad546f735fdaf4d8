#include "selfsup/core/runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <malloc.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace selfsup {

namespace {

// The value of the first /proc/cpuinfo line that starts with `field` ("" where there is none).
std::string cpuinfo_field(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return {};
}

}  // namespace

std::string cpu_model_name() {
  static const std::string name = cpuinfo_field("model name");
  return name;
}

std::string cpu_flags() {
  static const std::string flags = cpuinfo_field("flags");
  return flags;
}

namespace {

CpuIsa widest_cpu_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kBaseline;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kBaseline:
      break;
  }
  return "baseline";
}

CpuIsa cpu_isa() {
  static const CpuIsa isa = [] {
    const CpuIsa widest = widest_cpu_isa();
    const char* env = std::getenv("SELFSUP_CPU_ISA");
    if (env == nullptr || *env == '\0') return widest;
    const std::string asked(env);
    CpuIsa cap = CpuIsa::kBaseline;
    if (asked == "avx512") {
      cap = CpuIsa::kAvx512;
    } else if (asked == "avx2") {
      cap = CpuIsa::kAvx2;
    } else {
      TORCH_CHECK(asked == "baseline", "SELFSUP_CPU_ISA must be avx512, avx2 or baseline, got '", asked, "'");
    }
    return static_cast<int>(cap) < static_cast<int>(widest) ? cap : widest;
  }();
  return isa;
}

bool cpu_has_native_bf16() {
  static const bool has = [] {
#if defined(__x86_64__)
    if (cpu_isa() != CpuIsa::kAvx512) return false;
#endif
    const auto flags = cpu_flags();
    if (flags.empty()) return true;  // not Linux: no way to tell, take the user's word
    std::istringstream words(flags);
    std::string w;
    while (words >> w) {
      if (w == "avx512_bf16" || w == "amx_bf16") return true;
    }
    return false;
  }();
  return has;
}

void init_runtime(int threads) {
#ifdef __GLIBC__
  static const bool allocator_fixed = [] {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);  // 1 GiB: keep freed arenas instead of trimming each step
    mallopt(M_TOP_PAD, 64 << 20);
    return true;
  }();
  (void)allocator_fixed;
#endif
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Far more threads than cores only slows a run (and tens of thousands never start it).
  TORCH_CHECK(threads <= 4 * cores, "train.threads (", threads, ") is more than 4x this machine's ", cores,
              " cores; use 0 for all cores");
  if (threads <= 0) threads = cores;
  at::set_num_threads(threads);
  cpu_isa();  // a misspelt SELFSUP_CPU_ISA fails here, not inside a kernel
}

torch::Device parse_device(const std::string& name) {
  torch::Device dev(torch::kCPU);
  try {
    dev = torch::Device(name);
  } catch (const c10::Error&) {
    TORCH_CHECK(false, "unknown device '", name, "' (expected cpu, cuda or cuda:N)");
  }
  TORCH_CHECK(dev.is_cpu() || (dev.is_cuda() && torch::cuda::is_available()), "device '", name,
              "' is not available in this build of LibTorch");
  return dev;
}

torch::Generator make_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

uint64_t derive_seed(uint64_t seed, const std::string& stream) {
  // FNV-1a over the stream name, mixed with the seed by splitmix64.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : stream) h = (h ^ c) * 1099511628211ull;
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (h | 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace selfsup
