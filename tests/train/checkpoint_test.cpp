// Checkpoints: a round trip restores everything; a failed or interrupted write never damages the
// previous checkpoint; a damaged file is reported by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "selfsup/train/checkpoint.h"
#include "support/error_of.h"
#include "train_test_util.h"

using namespace selfsup;
using selfsup::testing::error_of;
namespace fs = std::filesystem;

namespace {

struct Net : torch::nn::Module {
  Net() {
    fc = register_module("fc", torch::nn::Linear(6, 4));
    bn = register_module("bn", torch::nn::BatchNorm1d(4));
    queue = register_buffer("queue", torch::randn({5, 4}));
  }
  torch::Tensor forward(const torch::Tensor& x) { return bn(fc(x)); }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::Tensor queue;
};

/// A few momentum-SGD steps so that the optimizer has state and BN has running statistics.
void train_a_little(Net& net, torch::optim::Optimizer& opt, int steps) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    net.forward(torch::randn({8, 6})).pow(2).mean().backward();
    opt.step();
  }
  torch::NoGradGuard g;
  net.queue.add_(1.0);
}

torch::optim::SGD make_sgd(Net& net) {
  return torch::optim::SGD(net.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
}

void expect_same_state(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  for (const auto& kv : pa) EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << kv.key();
  auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& kv : ba) EXPECT_TRUE(torch::equal(kv.value(), bb[kv.key()])) << kv.key();
}

TEST(Checkpoint, RoundTripRestoresEverything) {
  const auto dir = trainutil::fresh_dir("roundtrip");
  const auto path = dir + "/last.ckpt";
  torch::manual_seed(0);
  Net net;
  auto opt = make_sgd(net);
  train_a_little(net, opt, 3);
  auto ema = std::vector<torch::Tensor>{torch::randn({3}), torch::randn({2, 2})};
  train::CheckpointState st{17, 40, 12.5, "method: {name: simclr}\n"};
  train::save_checkpoint(path, net, &opt, st, ema);
  auto rng_after_save = torch::rand({4});

  torch::manual_seed(123);  // a different init and RNG position
  Net fresh;
  auto fresh_opt = make_sgd(fresh);
  std::vector<torch::Tensor> fresh_ema{torch::zeros({3}), torch::zeros({2, 2})};
  auto got = train::load_checkpoint(path, fresh, &fresh_opt, &fresh_ema);
  EXPECT_EQ(got.step, 17);
  EXPECT_EQ(got.total_steps, 40);
  EXPECT_DOUBLE_EQ(got.train_seconds, 12.5);
  EXPECT_EQ(got.config_yaml, st.config_yaml);
  expect_same_state(net, fresh);
  EXPECT_TRUE(torch::equal(fresh_ema[0], ema[0]));
  EXPECT_TRUE(torch::equal(fresh_ema[1], ema[1]));
  EXPECT_TRUE(torch::equal(torch::rand({4}), rng_after_save)) << "the global RNG state was not restored";

  auto peek = train::peek_checkpoint(path);
  EXPECT_EQ(peek.step, 17);
  EXPECT_EQ(peek.config_yaml, st.config_yaml);

  // The momentum buffers came back: one more identical step keeps both models identical (it would
  // not if the restored optimizer started from zero momentum).
  auto x = torch::randn({8, 6});
  opt.zero_grad();
  net.forward(x).pow(2).mean().backward();
  opt.step();
  fresh_opt.zero_grad();
  fresh.forward(x).pow(2).mean().backward();
  fresh_opt.step();
  expect_same_state(net, fresh);

  // A model of another shape is refused, naming the file.
  torch::nn::Linear other(3, 3);
  auto msg = error_of([&] { train::load_checkpoint(path, *other, nullptr); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  // So is a wrong count of extra tensors.
  std::vector<torch::Tensor> one{torch::zeros({3})};
  EXPECT_THROW(train::load_checkpoint(path, fresh, nullptr, &one), c10::Error);
}

TEST(Checkpoint, ReplacesByRenameSoTheOldFileIsNeverWrittenInPlace) {
  const auto dir = trainutil::fresh_dir("rename");
  const auto path = dir + "/last.ckpt", old_link = dir + "/old.ckpt";
  torch::manual_seed(1);
  Net net;
  train::save_checkpoint(path, net, nullptr, {5, 10, 1.0, "a: 1\n"});
  // A second name for the old file: writing the new checkpoint in place would change it too.
  ASSERT_EQ(::link(path.c_str(), old_link.c_str()), 0);
  {
    torch::NoGradGuard g;
    net.fc->weight.add_(1.0);
  }
  train::save_checkpoint(path, net, nullptr, {6, 10, 2.0, "a: 1\n"});
  EXPECT_EQ(train::peek_checkpoint(old_link).step, 5);
  EXPECT_EQ(train::peek_checkpoint(path).step, 6);
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
  }
}

TEST(Checkpoint, FailedWriteLeavesThePreviousCheckpointLoadable) {
  const auto dir = trainutil::fresh_dir("failed");
  const auto path = dir + "/last.ckpt";
  torch::manual_seed(2);
  Net net;
  auto saved_weight = net.fc->weight.detach().clone();
  train::save_checkpoint(path, net, nullptr, {3, 10, 1.0, "a: 1\n"});

  // Garbage from a write that died half-way (another process's temp file): ignored.
  { std::ofstream(path + ".tmp.99999") << "partial garbage"; }
  // This process's temp name is taken by a folder, so the new write fails half-way.
  const auto blocker = path + ".tmp." + std::to_string(::getpid());
  fs::create_directories(blocker + "/x");
  {
    torch::NoGradGuard g;
    net.fc->weight.add_(1.0);
  }
  auto msg = error_of([&] { train::save_checkpoint(path, net, nullptr, {4, 10, 2.0, "a: 1\n"}); });
  EXPECT_NE(msg.find(path), std::string::npos) << "the failed write was not reported: '" << msg << "'";
  fs::remove_all(blocker);

  torch::manual_seed(99);
  Net fresh;
  auto st = train::load_checkpoint(path, fresh, nullptr);
  EXPECT_EQ(st.step, 3);
  EXPECT_TRUE(torch::equal(fresh.fc->weight, saved_weight));

  // A leftover temp file of this very process is simply overwritten by the next save.
  { std::ofstream(blocker) << "stale"; }
  train::save_checkpoint(path, net, nullptr, {4, 10, 2.0, "a: 1\n"});
  EXPECT_EQ(train::peek_checkpoint(path).step, 4);
  EXPECT_FALSE(fs::exists(blocker));
}

TEST(Checkpoint, TruncatedOrMissingFileIsReportedByName) {
  const auto dir = trainutil::fresh_dir("truncated");
  const auto path = dir + "/last.ckpt", cut = dir + "/cut.ckpt", empty = dir + "/empty.ckpt";
  torch::manual_seed(3);
  Net net;
  train::save_checkpoint(path, net, nullptr, {3, 10, 1.0, "a: 1\n"});
  const auto size = fs::file_size(path);
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes(size / 2, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(cut, std::ios::binary) << bytes;
    std::ofstream(empty, std::ios::binary).flush();
  }
  for (const auto& bad : {cut, empty, dir + "/missing.ckpt"}) {
    Net fresh;
    auto msg = error_of([&] { train::load_checkpoint(bad, fresh, nullptr); });
    EXPECT_NE(msg.find(bad), std::string::npos) << "load of " << bad << ": '" << msg << "'";
    msg = error_of([&] { train::peek_checkpoint(bad); });
    EXPECT_NE(msg.find(bad), std::string::npos) << "peek of " << bad << ": '" << msg << "'";
  }
}

// A flipped bit in a record is caught by the archive's CRC-32s (LibTorch's reader does not check
// them): the load is refused naming the file. A flip in a header's alignment padding changes no
// value: such a file may load, but then it must give back exactly what was saved.
TEST(Checkpoint, AFlippedBitIsRefusedOrChangesNothing) {
  const auto dir = trainutil::fresh_dir("flipped");
  const auto path = dir + "/last.ckpt", flipped = dir + "/flipped.ckpt";
  torch::manual_seed(5);
  Net net;
  train::save_checkpoint(path, net, nullptr, {3, 10, 1.0, "a: 1\n"});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int refused = 0;
  for (size_t at = 0; at < bytes.size(); at += 97) {
    auto damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x04);
    std::ofstream(flipped, std::ios::binary | std::ios::trunc) << damaged;
    Net fresh;
    const auto msg = error_of([&] { train::load_checkpoint(flipped, fresh, nullptr); });
    if (!msg.empty()) {
      EXPECT_NE(msg.find("checkpoint " + flipped + " is"), std::string::npos) << "byte " << at << ": " << msg;
      ++refused;
      continue;
    }
    const auto a = net.named_parameters(), b = fresh.named_parameters();
    for (const auto& kv : a) EXPECT_TRUE(torch::equal(kv.value(), b[kv.key()])) << "byte " << at << " " << kv.key();
    EXPECT_TRUE(torch::equal(net.queue, fresh.queue)) << "byte " << at;
  }
  EXPECT_GT(refused, 10);
}

// Offsets read from the file near 2^64 (here a zip64 locator's) wrapped the bounds checks
// around and were read outside the file (before its start: the sanitizer build reports it);
// they are refused as damage.
TEST(Checkpoint, OffsetsNearTwoToTheSixtyFourAreDamageNotReads) {
  const auto dir = trainutil::fresh_dir("zip64");
  const auto path = dir + "/last.ckpt";
  Net net;
  train::save_checkpoint(path, net, nullptr, {3, 10, 1.0, "a: 1\n"});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t end = bytes.rfind(std::string("PK\x05\x06", 4));
  ASSERT_NE(end, std::string::npos);
  ASSERT_GE(end, 20u);
  bytes[end + 10] = bytes[end + 11] = static_cast<char>(0xFF);  // "entries in a zip64 record"
  const std::string locator = std::string("PK\x06\x07", 4) + std::string(4, '\0') +
                              std::string("\xF0\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8) + std::string("\x01\0\0\0", 4);
  bytes.replace(end - 20, 20, locator);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  Net fresh;
  const auto msg = error_of([&] { train::load_checkpoint(path, fresh, nullptr); });
  EXPECT_NE(msg.find("is damaged (a damaged zip64 directory)"), std::string::npos) << msg;
}

// A state holding a NaN or an infinity is never written: the previous checkpoint stays.
TEST(Checkpoint, NonFiniteStateIsNotWritten) {
  const auto dir = trainutil::fresh_dir("nonfinite");
  const auto path = dir + "/last.ckpt";
  torch::manual_seed(6);
  Net net;
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  train_a_little(net, opt, 2);
  train::save_checkpoint(path, net, &opt, {2, 10, 1.0, "a: 1\n"});
  {
    torch::NoGradGuard g;
    net.fc->bias[1] = std::numeric_limits<float>::infinity();
  }
  std::string where;
  EXPECT_FALSE(train::all_finite(net, &opt, &where));
  EXPECT_EQ(where, "fc.bias");
  auto msg = error_of([&] { train::save_checkpoint(path, net, &opt, {3, 10, 2.0, "a: 1\n"}); });
  EXPECT_NE(msg.find("not writing checkpoint " + path + " at step 3: fc.bias is not finite"), std::string::npos) << msg;
  EXPECT_EQ(train::peek_checkpoint(path).step, 2);
  // The optimizer's state is checked too.
  {
    torch::NoGradGuard g;
    net.fc->bias[1] = 0.0f;
    for (auto& kv : opt.state()) {
      static_cast<torch::optim::SGDParamState&>(*kv.second).momentum_buffer().fill_(std::nanf(""));
    }
  }
  EXPECT_FALSE(train::all_finite(net, &opt, &where));
  EXPECT_EQ(where, "the optimizer's momentum");
  EXPECT_THROW(train::save_checkpoint(path, net, &opt, {3, 10, 2.0, "a: 1\n"}), c10::Error);
  EXPECT_EQ(train::peek_checkpoint(path).step, 2);
}

// A full disk during a write: one error naming the file and the system's reason, no temporary
// file left, the previous checkpoint kept. Needs a small file system of its own: a tmpfs, mounted
// here when the tests run as root (as in CI); skipped otherwise.
TEST(Checkpoint, AFullDiskKeepsThePreviousCheckpointAndLeavesNoTemporaryFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  const auto dir = (fs::path(::testing::TempDir()) / "selfsup_train_full_disk").string();
  std::system(("umount " + dir + " 2>/dev/null").c_str());
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (std::system(("mount -t tmpfs -o size=64k tmpfs " + dir + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs on " << dir;
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { std::system(("umount " + dir).c_str()); }
  } unmount{dir};
  const auto path = dir + "/last.ckpt";
  torch::manual_seed(7);
  Net small;
  train::save_checkpoint(path, small, nullptr, {1, 10, 1.0, "a: 1\n"});
  struct Big : torch::nn::Module {
    Big() { w = register_parameter("w", torch::zeros({64, 1024})); }  // 256 KiB: more than the disk
    torch::Tensor w;
  } big;
  const auto msg = error_of([&] { train::save_checkpoint(path, big, nullptr, {2, 10, 2.0, "a: 1\n"}); });
  EXPECT_NE(msg.find("cannot write checkpoint " + path), std::string::npos) << msg;
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the previous one is kept"), std::string::npos) << msg;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"last.ckpt"});
  EXPECT_EQ(train::peek_checkpoint(path).step, 1);
}

TEST(WriteFileAtomic, WritesAndReplaces) {
  const auto dir = trainutil::fresh_dir("atomic");
  const auto path = dir + "/summary.json";
  train::write_file_atomic(path, "one\n");
  train::write_file_atomic(path, "two\n");
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s, "two\n");
  EXPECT_THROW(train::write_file_atomic(dir + "/no/such/folder/x", "x"), c10::Error);
}

}  // namespace
