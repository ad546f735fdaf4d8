// The trainer: a run interrupted after a checkpoint and resumed by a freshly built trainer ends
// with exactly the weights of an uninterrupted run; a diverging run stops with a clear error.
#include <gtest/gtest.h>

#include <fstream>
#include <chrono>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "train_test_util.h"

using namespace selfsup;

namespace {

using Snapshot = std::map<std::string, torch::Tensor>;

Snapshot snapshot(const torch::nn::Module& m) {
  Snapshot s;
  for (const auto& kv : m.named_parameters()) s["param " + kv.key()] = kv.value().detach().clone();
  for (const auto& kv : m.named_buffers()) s["buffer " + kv.key()] = kv.value().detach().clone();
  return s;
}

/// Names of the tensors that differ, with their largest difference.
std::string differences(const Snapshot& a, const Snapshot& b) {
  std::ostringstream out;
  for (const auto& kv : a) {
    auto it = b.find(kv.first);
    if (it == b.end()) {
      out << kv.first << " missing; ";
    } else if (!torch::equal(kv.second, it->second)) {
      out << kv.first << " max diff "
          << (kv.second.to(torch::kFloat64) - it->second.to(torch::kFloat64)).abs().max().item<double>() << "; ";
    }
  }
  return out.str();
}

struct Killed {};

constexpr int64_t kSteps = 12, kEvery = 3, kKillAfter = 7;

train::TrainerOptions options() {
  return train::TrainerOptions().max_steps(kSteps).checkpoint_every_steps(kEvery).progress(false);
}

struct ResumeCase {
  std::string method;
  int threads;
};
void PrintTo(const ResumeCase& c, std::ostream* os) { *os << c.method << " on " << c.threads << " thread(s)"; }

class Resume : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(Resume, InterruptedAndResumedEqualsStraight) {
  const auto name = GetParam().method + "_t" + std::to_string(GetParam().threads);
  auto cfg = trainutil::tiny_config(GetParam().method);
  // With two threads the first batch after the resume is made on the training thread, while the
  // straight run made it on the prefetch thread (one thread): both must agree to the bit.
  cfg.set("train.threads", YAML::Node(GetParam().threads));

  const auto straight_dir = trainutil::fresh_dir("straight_" + name);
  Snapshot initial, straight;
  {
    auto run = trainutil::build_run(cfg, options(), straight_dir);
    initial = snapshot(*run->method);
    auto r = run->trainer->fit();
    EXPECT_EQ(r.steps, kSteps);
    straight = snapshot(*run->method);
  }

  // The same run dies (an exception, like a kill) after the step-6 checkpoint was written.
  const auto dir = trainutil::fresh_dir("resumed_" + name);
  {
    auto run = trainutil::build_run(cfg, options(), dir);
    run->trainer->on_step([](int64_t step, double, const methods::StepOutput&) {
      if (step == kKillAfter) throw Killed{};
    });
    EXPECT_THROW(run->trainer->fit(), Killed);
  }
  const auto at_kill_state = train::peek_checkpoint(dir + "/last.ckpt");
  ASSERT_EQ(at_kill_state.step, 6);
  EXPECT_GT(at_kill_state.train_seconds, 0.0);
  EXPECT_LT(at_kill_state.train_seconds, 3600.0);

  // A new "process": everything rebuilt from the config (a fresh initialisation), then resumed.
  std::vector<int64_t> resumed_steps;
  Snapshot resumed;
  {
    torch::manual_seed(12345);  // the resumed run must not depend on the global RNG it finds
    auto run = trainutil::build_run(cfg, options(), dir, train::RunMode::kResume);
    run->trainer->on_step([&](int64_t step, double, const methods::StepOutput&) { resumed_steps.push_back(step); });
    auto r = run->trainer->fit();
    EXPECT_EQ(r.steps, kSteps);
    EXPECT_EQ(r.total_steps, kSteps);
    // Training time accumulates across the interruption.
    EXPECT_GT(r.train_seconds, at_kill_state.train_seconds);
    EXPECT_LT(r.train_seconds, 3600.0);
    resumed = snapshot(*run->method);
  }
  // It really continued from step 6 rather than starting over.
  ASSERT_EQ(resumed_steps.size(), static_cast<size_t>(kSteps - 6));
  EXPECT_EQ(resumed_steps.front(), 7);

  EXPECT_FALSE(differences(initial, straight).empty()) << "training changed nothing";
  const auto diff = differences(straight, resumed);
  EXPECT_TRUE(diff.empty()) << name << ": resumed run differs from the straight one: " << diff;
  EXPECT_EQ(train::peek_checkpoint(dir + "/last.ckpt").step, kSteps);
}

INSTANTIATE_TEST_SUITE_P(Methods, Resume,
                         ::testing::Values(ResumeCase{"simclr", 1}, ResumeCase{"simclr", 2}, ResumeCase{"mocov2", 1},
                                           ResumeCase{"byol", 1}, ResumeCase{"mae", 1}),
                         [](const auto& info) { return info.param.method + "_threads" + std::to_string(info.param.threads); });

// A diverging run stops with one line naming the step and the last good checkpoint, and that
// checkpoint holds only finite values: weights that went to infinity while the loss was still
// finite are never written over it.
TEST(Trainer, DivergenceStopsWithAClearErrorAndKeepsAFiniteCheckpoint) {
  for (const char* lr : {"train.lr=1e30", "train.lr=1e6"}) {
    auto cfg = trainutil::tiny_config("simclr");
    cfg.set(lr);
    const auto dir = trainutil::fresh_dir("nan");
    auto run = trainutil::build_run(cfg, train::TrainerOptions().max_steps(20).checkpoint_every_steps(1).progress(false),
                                    dir);
    int64_t steps = 0;
    run->trainer->on_step([&](int64_t step, double, const methods::StepOutput&) { steps = step; });
    std::string msg;
    try {
      run->trainer->fit();
    } catch (const c10::Error& e) {
      msg = e.msg();
    }
    ASSERT_FALSE(msg.empty()) << lr << ": the run finished without an error";
    EXPECT_LT(steps, 20) << lr;
    EXPECT_TRUE(msg.find("NaN") != std::string::npos || msg.find("infinite") != std::string::npos) << msg;
    EXPECT_TRUE(msg.find("at step " + std::to_string(steps)) != std::string::npos ||
                msg.find("at step " + std::to_string(steps + 1)) != std::string::npos)
        << msg;
    const auto saved = train::peek_checkpoint(dir + "/last.ckpt").step;
    EXPECT_NE(msg.find("the last good checkpoint is " + dir + "/last.ckpt (step " + std::to_string(saved) + ")"),
              std::string::npos)
        << msg;
    auto fresh = trainutil::build_run(cfg, train::TrainerOptions().max_steps(20).progress(false));
    train::load_checkpoint(dir + "/last.ckpt", *fresh->method, &fresh->trainer->optimizer().impl());
    std::string where;
    EXPECT_TRUE(train::all_finite(*fresh->method, &fresh->trainer->optimizer().impl(), &where))
        << lr << ": the checkpoint of step " << saved << " holds a non-finite " << where;
  }
}

TEST(Trainer, WritesMetricsLinesAndHonoursMaxSteps) {
  auto cfg = trainutil::tiny_config("simclr");
  const auto dir = trainutil::fresh_dir("metrics");
  auto run = trainutil::build_run(cfg, train::TrainerOptions().max_steps(4).log_every_steps(2).progress(false), dir);
  auto r = run->trainer->fit();
  EXPECT_EQ(r.steps, 4);
  EXPECT_FALSE(r.stopped_early);
  EXPECT_TRUE(std::isfinite(r.last_loss));
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  std::vector<int64_t> steps;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    steps.push_back(j.at("step").get<int64_t>());
    EXPECT_TRUE(j.contains("loss") && j.contains("lr") && j.contains("z_std")) << line;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(train::peek_checkpoint(dir + "/last.ckpt").step, 4);
}

// The step time quadruples a third of the way in (as when another job starts on the machine): a
// schedule fitted once from the early speed would be cut off by the time limit at a high learning
// rate; refitted, it still ends (nearly) at its last step when time runs out.
TEST(Trainer, TimeLimitRefitsTheScheduleWhenTheSpeedChanges) {
  auto cfg = trainutil::tiny_config("simclr");
  const auto dir = trainutil::fresh_dir("refit");
  auto run = trainutil::build_run(
      cfg, train::TrainerOptions().max_steps(100000).time_limit(6.0).fit_window_seconds(0.5).progress(false), dir);
  const auto start = std::chrono::steady_clock::now();
  run->trainer->on_step([&](int64_t, double, const methods::StepOutput&) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(t < 2.0 ? 5 : 40));
  });
  auto r = run->trainer->fit();
  ASSERT_LT(r.total_steps, 100000) << "the schedule was never fitted";
  // Ended on time and within a few steps of the schedule's end (lr near zero), not cut off early.
  EXPECT_GE(static_cast<double>(r.steps), 0.9 * static_cast<double>(r.total_steps))
      << r.steps << " of " << r.total_steps << " steps";
  EXPECT_LT(run->trainer->optimizer().lr(), 0.1 * cfg.get<double>("train.lr", 0.0));
}

}  // namespace
