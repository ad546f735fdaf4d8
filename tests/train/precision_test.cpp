// precision: auto. The faster measured precision wins; the per-machine cache round-trips and
// shrugs off a broken file; and the probe leaves no trace: a run that probed equals, to the bit, a
// run started in the precision it chose, which is what the checkpoint's config then says.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "selfsup/train/precision.h"
#include "support/error_of.h"
#include "train_test_util.h"

using namespace selfsup;
using selfsup::testing::error_of;

namespace {

// Sets an environment variable for one scope, restoring what was there.
class PrecisionEnvVar {
 public:
  PrecisionEnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~PrecisionEnvVar() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::map<std::string, torch::Tensor> probe_weights(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> s;
  for (const auto& kv : m.named_parameters()) s["param " + kv.key()] = kv.value().detach().clone();
  for (const auto& kv : m.named_buffers()) s["buffer " + kv.key()] = kv.value().detach().clone();
  return s;
}

std::string probe_differing(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    if (!b.count(k) || !torch::equal(v, b.at(k))) out += k + "; ";
  }
  return out;
}

}  // namespace

TEST(Precision, FasterWinsAndATieKeepsFp32) {
  EXPECT_EQ(train::faster_precision({{"fp32", 100.0}, {"bf16", 130.0}}), "bf16");
  EXPECT_EQ(train::faster_precision({{"fp32", 130.0}, {"bf16", 100.0}}), "fp32");
  EXPECT_EQ(train::faster_precision({{"fp32", 100.0}, {"bf16", 100.0}}), "fp32");
  EXPECT_EQ(train::faster_precision({{"bf16", 5.0}}), "bf16");
  EXPECT_NE(error_of([] { train::faster_precision({}); }).find("no precision"), std::string::npos);
  EXPECT_NE(error_of([] { train::faster_precision({{"fp16", 1.0}}); }).find("'fp16'"), std::string::npos);
}

TEST(Precision, NativePrecisionsAlwaysHaveFp32) {
  const auto cpu = train::native_precisions(c10::DeviceType::CPU);
  ASSERT_FALSE(cpu.empty());
  EXPECT_EQ(cpu.front(), "fp32");
  EXPECT_EQ(cpu.size(), cpu_has_native_bf16() ? 2u : 1u);
  EXPECT_EQ(train::native_precisions(c10::DeviceType::CUDA).size(), 2u);
}

TEST(Precision, CachePathFollowsTheEnvironment) {
  {
    PrecisionEnvVar a("SELFSUP_CACHE_DIR", "/tmp/a"), b("XDG_CACHE_HOME", "/tmp/b"), c("HOME", "/tmp/c");
    EXPECT_EQ(train::precision_cache_path(), "/tmp/a/precision.json");
  }
  {
    PrecisionEnvVar a("SELFSUP_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", "/tmp/b"), c("HOME", "/tmp/c");
    EXPECT_EQ(train::precision_cache_path(), "/tmp/b/selfsup/precision.json");
  }
  {
    PrecisionEnvVar a("SELFSUP_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", nullptr), c("HOME", "/tmp/c");
    EXPECT_EQ(train::precision_cache_path(), "/tmp/c/.cache/selfsup/precision.json");
  }
  {
    PrecisionEnvVar a("SELFSUP_CACHE_DIR", nullptr), b("XDG_CACHE_HOME", nullptr), c("HOME", nullptr);
    EXPECT_EQ(train::precision_cache_path(), "");
  }
}

TEST(Precision, CacheKeyNamesTheMachineTheLibraryAndTheShape) {
  const auto key = train::precision_cache_key("simclr | batch [256, 1, 28, 28]", c10::DeviceType::CPU);
  EXPECT_NE(key.find(cpu_model_name()), std::string::npos);
  EXPECT_NE(key.find(TORCH_VERSION), std::string::npos);
  EXPECT_NE(key.find("threads " + std::to_string(at::get_num_threads())), std::string::npos);
  EXPECT_NE(key.find("simclr | batch [256, 1, 28, 28]"), std::string::npos);
  EXPECT_NE(key, train::precision_cache_key("simclr | batch [128, 1, 28, 28]", c10::DeviceType::CPU));
  EXPECT_NE(key, train::precision_cache_key("simclr | batch [256, 1, 28, 28]", c10::DeviceType::CUDA));
}

TEST(Precision, CacheRoundTripsAndIgnoresABrokenFile) {
  const auto dir = trainutil::fresh_dir("precision_cache");
  const auto path = dir + "/sub/precision.json";
  EXPECT_FALSE(train::read_precision_cache(path, "k1").has_value());  // no file yet
  train::PrecisionChoice c;
  c.precision = "bf16";
  c.images_per_second = {{"fp32", 100.0}, {"bf16", 125.5}};
  train::write_precision_cache(path, "k1", c);
  c.precision = "fp32";
  train::write_precision_cache(path, "k2", c);
  const auto back = train::read_precision_cache(path, "k1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->precision, "bf16");
  EXPECT_EQ(back->source, "cache");
  EXPECT_EQ(back->cache_file, path);
  EXPECT_DOUBLE_EQ(back->images_per_second.at("bf16"), 125.5);
  EXPECT_EQ(train::read_precision_cache(path, "k2")->precision, "fp32");  // the second kept the first
  EXPECT_FALSE(train::read_precision_cache(path, "k3").has_value());

  { std::ofstream(path) << "{\"k1\": {\"precision\": \"bf"; }  // truncated
  EXPECT_FALSE(train::read_precision_cache(path, "k1").has_value());
  train::write_precision_cache(path, "k1", c);  // written afresh over the broken file
  EXPECT_EQ(train::read_precision_cache(path, "k1")->precision, "fp32");
  { std::ofstream(path) << "{\"k1\": {\"precision\": \"fp8\"}}"; }
  EXPECT_FALSE(train::read_precision_cache(path, "k1").has_value());
}

TEST(Precision, UnknownPrecisionIsRejectedNamingIt) {
  auto cfg = trainutil::tiny_config("simclr");
  cfg.set("precision", YAML::Node("fp16"));
  EXPECT_NE(error_of([&] { train::TrainerOptions::from_config(cfg); }).find("'fp16'"), std::string::npos);
  cfg.set("precision", YAML::Node("auto"));
  cfg.set("train.precision_probe_steps", YAML::Node(0));
  EXPECT_NE(error_of([&] { train::TrainerOptions::from_config(cfg); }).find("precision_probe_steps"), std::string::npos);
}

class PrecisionProbe : public ::testing::TestWithParam<std::string> {};

// Both precisions are probed on any CPU (bf16 is only emulated on some, which a tiny network
// bears); the run then goes on exactly as one started in the chosen precision.
TEST_P(PrecisionProbe, LeavesTheRunAsIfStartedInTheChoice) {
  const auto method = GetParam();
  const auto cache = trainutil::fresh_dir("precision_probe_cache_" + method);
  PrecisionEnvVar env("SELFSUP_CACHE_DIR", cache.c_str());
  const auto cfg = trainutil::tiny_config(method);
  const auto base = train::TrainerOptions().max_steps(4).checkpoint_every_steps(2).progress(false);
  auto autos = base;
  autos.precision("auto").precision_probe_steps(2).precision_probe_min_steps(0).precision_candidates({"fp32", "bf16"});

  const auto dir = trainutil::fresh_dir("precision_probe_" + method);
  auto probed = trainutil::build_run(cfg, autos, dir);
  const auto r = probed->trainer->fit();
  EXPECT_EQ(r.precision.source, "probe");
  ASSERT_EQ(r.precision.images_per_second.size(), 2u);
  EXPECT_GT(r.precision.images_per_second.at("fp32"), 0.0);
  EXPECT_GT(r.precision.images_per_second.at("bf16"), 0.0);
  EXPECT_EQ(r.precision.precision, train::faster_precision(r.precision.images_per_second));
  EXPECT_EQ(r.steps, 4);
  // The choice is in the run's config, so that a resume keeps it.
  const auto saved = Config::parse(train::peek_checkpoint(dir + "/last.ckpt").config_yaml, "checkpoint");
  EXPECT_EQ(saved.get<std::string>("precision", ""), r.precision.precision);

  auto fixed = base;
  fixed.precision(r.precision.precision);
  auto straight = trainutil::build_run(cfg, fixed);
  const auto rs = straight->trainer->fit();
  EXPECT_EQ(rs.precision.source, "config");
  const auto diff = probe_differing(probe_weights(*probed->method), probe_weights(*straight->method));
  EXPECT_TRUE(diff.empty()) << method << ": the probed run differs from a run in " << r.precision.precision << ": "
                            << diff;

  // A second run finds the decision in the cache and probes no more.
  auto again = trainutil::build_run(cfg, autos);
  const auto ra = again->trainer->fit();
  EXPECT_EQ(ra.precision.source, "cache");
  EXPECT_EQ(ra.precision.precision, r.precision.precision);
  EXPECT_EQ(ra.precision.cache_file, cache + "/precision.json");
}

TEST(PrecisionProbeShortRun, TakesFp32WithoutTiming) {
  const auto cache = trainutil::fresh_dir("precision_short_cache");
  PrecisionEnvVar env("SELFSUP_CACHE_DIR", cache.c_str());
  auto opts = train::TrainerOptions().max_steps(3).progress(false).precision("auto").precision_probe_min_steps(4)
                  .precision_candidates({"fp32", "bf16"});
  auto run = trainutil::build_run(trainutil::tiny_config("simclr"), opts);
  const auto r = run->trainer->fit();
  EXPECT_EQ(r.precision.source, "short");
  EXPECT_EQ(r.precision.precision, "fp32");
  EXPECT_TRUE(r.precision.images_per_second.empty());
  EXPECT_FALSE(std::filesystem::exists(cache + "/precision.json"));  // nothing measured, nothing cached
}

INSTANTIATE_TEST_SUITE_P(Methods, PrecisionProbe, ::testing::Values("simclr", "byol", "mae"));
