// The library form of `selfsup pretrain` / `selfsup eval`, end to end on a small subset.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "selfsup/run/eval.h"
#include "selfsup/run/pretrain.h"
#include "selfsup/train/checkpoint.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;
namespace fs = std::filesystem;

namespace {

Config small_config() {
  return Config::parse(R"(
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, lr: 0.05, max_steps: 5, threads: 1, log_every_steps: 2}
eval: {knn_k: 20, linear_max_iter: 50}
seed: 3
)");
}

std::string fresh_dir(const std::string& name) {
  auto d = fs::path(::testing::TempDir()) / ("selfsup_run_" + name);
  fs::remove_all(d);
  return d.string();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

run::RunOptions quiet_run(const std::string& dir) {
  run::RunOptions ro;
  ro.out_dir = dir;
  ro.quiet = true;
  return ro;
}

TEST(Pretrain, EndToEndWritesEveryOutputAndTheCheckpointReproducesTheScores) {
  const auto dir = fresh_dir("e2e");
  auto summary = run::pretrain(small_config(), quiet_run(dir));

  // config.yaml: the resolved config, readable again.
  auto saved = Config::load(dir + "/config.yaml");
  EXPECT_EQ(saved.get<std::string>("method.name", ""), "simclr");
  EXPECT_EQ(saved.get<int64_t>("train.max_steps", 0), 5);

  // metrics.jsonl: one valid JSON object per logged step.
  std::ifstream metrics(dir + "/metrics.jsonl");
  std::string line;
  std::vector<int64_t> steps;
  while (std::getline(metrics, line)) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(j.is_object()) << line;
    steps.push_back(j.at("step").get<int64_t>());
    EXPECT_TRUE(std::isfinite(j.at("loss").get<double>())) << line;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 4, 5}));

  EXPECT_EQ(train::peek_checkpoint(dir + "/last.ckpt").step, 5);

  auto file = nlohmann::json::parse(read(dir + "/summary.json"));
  EXPECT_EQ(file, summary);
  EXPECT_EQ(summary.at("steps").get<int64_t>(), 5);
  EXPECT_EQ(summary.at("method"), "simclr");
  for (const char* key : {"knn_acc", "linear_acc"}) {
    ASSERT_TRUE(summary.contains(key)) << summary.dump();
    const double acc = summary.at(key).get<double>();
    // Ten classes: a 5-step encoder is far from perfect but well above chance.
    EXPECT_GT(acc, 0.2) << key;
    EXPECT_LE(acc, 1.0) << key;
  }
  EXPECT_TRUE(summary.contains("train_seconds") && summary.contains("images_per_second"));

  // The checkpoint alone (its config travels inside it) gives the same kNN accuracy.
  auto j = run::evaluate_checkpoint(dir + "/last.ckpt", eval::EvalOptions().protocols({"knn"}).knn_k(20));
  EXPECT_EQ(j.at("knn_acc").get<double>(), summary.at("knn_acc").get<double>());
  EXPECT_EQ(j.at("step").get<int64_t>(), 5);
  EXPECT_FALSE(j.contains("linear_acc"));
}

// The folder of a finished run: a fresh run is refused before it builds anything, --resume
// continues it (a finished run is evaluated again), --overwrite replaces it.
TEST(Pretrain, AnotherRunsFolderIsRefusedUnlessResumedOrOverwritten) {
  const auto dir = fresh_dir("taken");
  auto ro = quiet_run(dir);
  ro.evaluate = false;
  run::pretrain(small_config(), ro);
  const auto first = read(dir + "/metrics.jsonl");
  auto msg = error_of([&] { run::pretrain(small_config(), ro); });
  EXPECT_NE(msg.find("--out " + dir + " holds another run"), std::string::npos) << msg;
  EXPECT_EQ(read(dir + "/metrics.jsonl"), first) << "the refused run touched the folder";
  ro.resume = true;
  EXPECT_EQ(run::pretrain(Config(), ro).at("steps").get<int64_t>(), 5);
  EXPECT_EQ(read(dir + "/metrics.jsonl"), first) << "resuming a finished run logged steps again";
  ro.resume = false;
  ro.overwrite = true;
  auto shorter = small_config();
  shorter.set("train.max_steps=2");
  EXPECT_EQ(run::pretrain(shorter, ro).at("steps").get<int64_t>(), 2);
  EXPECT_EQ(train::peek_checkpoint(dir + "/last.ckpt").step, 2);
}

TEST(Pretrain, UnknownConfigKeyFailsBeforeTraining) {
  const auto dir = fresh_dir("typo");
  auto cfg = small_config();
  cfg.set("train.lrr=0.1");
  auto msg = error_of([&] { run::pretrain(cfg, quiet_run(dir)); });
  EXPECT_NE(msg.find("train.lrr"), std::string::npos) << "'" << msg << "'";
  EXPECT_FALSE(fs::exists(dir + "/last.ckpt"));
  EXPECT_FALSE(fs::exists(dir + "/metrics.jsonl"));
}

TEST(Pretrain, ResumeWithoutACheckpointFailsClearly) {
  const auto dir = fresh_dir("no_ckpt");
  fs::create_directories(dir);
  auto ro = quiet_run(dir);
  ro.resume = true;
  auto msg = error_of([&] { run::pretrain(small_config(), ro); });
  EXPECT_NE(msg.find("--resume: no checkpoint at " + dir + "/last.ckpt"), std::string::npos) << "'" << msg << "'";
  EXPECT_FALSE(fs::exists(dir + "/last.ckpt"));

  ro.resume = false;
  ro.out_dir = "";
  EXPECT_THROW(run::pretrain(small_config(), ro), c10::Error);
}

}  // namespace
