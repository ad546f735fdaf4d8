// The run folder: a fresh run refuses another run's folder unless told to overwrite or resume it,
// and resuming needs a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "selfsup/train/checkpoint.h"
#include "selfsup/train/run_dir.h"
#include "support/error_of.h"
#include "train_test_util.h"

using namespace selfsup;

namespace {

TEST(RunDir, ResumeWithoutCheckpointFailsNamingIt) {
  const auto dir = trainutil::fresh_dir("no_ckpt");
  const auto msg = selfsup::testing::error_of([&] { train::RunDir(dir, train::RunMode::kResume); });
  EXPECT_NE(msg.find("--resume: no checkpoint at " + dir + "/last.ckpt"), std::string::npos) << msg;
}

// A fresh run refuses a folder that holds another run's files, naming them, unless it overwrites
// or resumes that run; a folder with files of its own (not a run's) is fine.
TEST(RunDir, AnotherRunsFolderIsRefusedUnlessOverwrittenOrResumed) {
  auto cfg = trainutil::tiny_config("simclr");
  const auto dir = trainutil::fresh_dir("taken");
  std::ofstream(dir + "/notes.txt") << "mine";
  EXPECT_NO_THROW(train::RunDir(dir, train::RunMode::kFresh));
  trainutil::build_run(cfg, train::TrainerOptions().max_steps(2).log_every_steps(1).progress(false), dir)->trainer->fit();
  const auto msg = selfsup::testing::error_of([&] { train::RunDir(dir, train::RunMode::kFresh); });
  EXPECT_NE(msg.find("--out " + dir + " holds another run (config.yaml, metrics.jsonl, last.ckpt)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("--resume"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--overwrite"), std::string::npos) << msg;
  EXPECT_NO_THROW(train::RunDir(dir, train::RunMode::kResume));
  // Overwritten: the old run's files go when the new run starts, other files stay.
  {
    auto run = trainutil::build_run(cfg, train::TrainerOptions().max_steps(1).log_every_steps(1).progress(false), dir,
                                    train::RunMode::kOverwrite);
    EXPECT_FALSE(std::filesystem::exists(dir + "/last.ckpt"));
    run->trainer->fit();
  }
  EXPECT_EQ(train::peek_checkpoint(dir + "/last.ckpt").step, 1);
  std::ifstream metrics(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 1);
  EXPECT_TRUE(std::filesystem::exists(dir + "/notes.txt"));
  EXPECT_NE(selfsup::testing::error_of([] { train::run_mode(true, true); }).find("give one"), std::string::npos);
}

}  // namespace
