// The library form of `selfsup pretrain` / `selfsup eval`, end to end on a small subset.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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
  run::EvalOptions eo;
  eo.protocols = {"knn"};
  eo.knn_k = 20;
  const auto eval_summary = dir + "/eval.json";
  auto j = run::evaluate_checkpoint(dir + "/last.ckpt", eo, 0, eval_summary);
  EXPECT_EQ(j.at("knn_acc").get<double>(), summary.at("knn_acc").get<double>());
  EXPECT_EQ(j.at("step").get<int64_t>(), 5);
  EXPECT_FALSE(j.contains("linear_acc"));
  EXPECT_EQ(nlohmann::json::parse(read(eval_summary)), j);
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
  EXPECT_NE(msg.find(dir + "/last.ckpt"), std::string::npos) << "'" << msg << "'";
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << "'" << msg << "'";
  EXPECT_FALSE(fs::exists(dir + "/last.ckpt"));

  ro.resume = false;
  ro.out_dir = "";
  EXPECT_THROW(run::pretrain(small_config(), ro), c10::Error);
}

TEST(EvalOptions, ReadsConfigAndRejectsUnknownProtocols) {
  auto o = run::EvalOptions::from_config(Config::parse("eval: {protocols: [knn], knn_k: 7, knn_temperature: 0.5}"));
  EXPECT_EQ(o.protocols, std::vector<std::string>{"knn"});
  EXPECT_EQ(o.knn_k, 7);
  EXPECT_DOUBLE_EQ(o.knn_temperature, 0.5);
  auto msg = error_of([] { run::EvalOptions::from_config(Config::parse("eval: {protocols: [knn, finetunee]}")); });
  EXPECT_NE(msg.find("finetunee"), std::string::npos) << msg;
}

}  // namespace
