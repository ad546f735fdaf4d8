// Which version of the CPU kernels runs (core/runtime.h's cpu_isa()): the widest the CPU has,
// lowered by SELFSUP_CPU_ISA.
// ctest runs this binary three times (tests/CMakeLists.txt: nets, nets.isa_avx2,
// nets.isa_baseline), so every kernel test here also checks the versions an older CPU runs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "selfsup/core/runtime.h"
#include "selfsup/nets/kernels.h"

using namespace selfsup;

namespace {

bool cpu_flag(const std::string& flag) {
  std::istringstream words(cpu_flags());
  std::string w;
  while (words >> w) {
    if (w == flag) return true;
  }
  return false;
}

int isa_rank(const std::string& isa) { return isa == "avx512" ? 2 : isa == "avx2" ? 1 : 0; }

}  // namespace

TEST(KernelIsa, WidestTheCpuHasUnlessTheEnvironmentLowersIt) {
  if (cpu_flags().empty()) GTEST_SKIP() << "no /proc/cpuinfo flags to compare with";
  std::string expected = cpu_flag("avx512f") ? "avx512" : cpu_flag("avx2") ? "avx2" : "baseline";
#if !(defined(__x86_64__) && defined(__GNUC__))
  expected = "baseline";  // one version only
#endif
  const char* cap = std::getenv("SELFSUP_CPU_ISA");
  if (cap != nullptr && *cap != '\0' && isa_rank(cap) < isa_rank(expected)) expected = cap;
  EXPECT_EQ(cpu_isa_name(cpu_isa()), expected);
  if (expected != "avx512") {
    EXPECT_FALSE(cpu_has_native_bf16());
  }
}

TEST(KernelIsa, OneDnnIsCappedWithOurKernels) {
  // Under the lower caps oneDNN must not reach for its AVX-512 kernels either (its Winograd
  // convolution is AVX-512 only), or this run would not be what an older CPU runs.
  const char* cap = std::getenv("DNNL_MAX_CPU_ISA");
  if (cap == nullptr || std::string(cap) == "AVX512_CORE" || !functional::conv3x3_uses_onednn()) {
    GTEST_SKIP() << "oneDNN is not capped below AVX-512 in this run";
  }
  EXPECT_THROW(functional::conv3x3(torch::randn({2, 16, 8, 8}), torch::randn({16, 16, 3, 3}),
                                   functional::Conv3x3FuncOptions().algorithm(functional::Conv3x3Algorithm::kWinograd)),
               c10::Error);
}
