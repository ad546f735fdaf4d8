// CIFAR-10/100 binary reader on tiny synthetic batches written here.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "selfsup/data/cifar.h"

namespace selfsup::data {
namespace {

using namespace selfsup::data::testing;

// A pixel value that differs along every axis, so a layout mistake changes it.
uint8_t pixel(int64_t record, int64_t c, int64_t y, int64_t x) {
  return static_cast<uint8_t>((record * 7 + c * 101 + y * 13 + x) % 256);
}

// Records numbered from `first` (the number drives the pixels); label bytes from `label_bytes`.
std::vector<uint8_t> batch(int64_t first, int64_t n,
                           const std::function<std::vector<uint8_t>(int64_t)>& label_bytes) {
  std::vector<uint8_t> out;
  for (int64_t r = first; r < first + n; ++r) {
    const auto lb = label_bytes(r);
    out.insert(out.end(), lb.begin(), lb.end());
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) out.push_back(pixel(r, c, y, x));
  }
  return out;
}

std::vector<uint8_t> cifar10_label(int64_t r) { return {static_cast<uint8_t>((r * 3) % 10)}; }
// Coarse label differs from the fine one, so reading the wrong byte is caught.
std::vector<uint8_t> cifar100_labels(int64_t r) {
  return {static_cast<uint8_t>(r % 20), static_cast<uint8_t>((r * 37 + 5) % 100)};
}

void expect_records(const Dataset& d, int64_t first, const std::function<int64_t(int64_t)>& label) {
  ASSERT_EQ(d.images.dim(), 4);
  auto expected = torch::empty_like(d.images);
  auto e = expected.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < d.size(); ++i)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) e[i][c][y][x] = pixel(first + i, c, y, x);
  EXPECT_TRUE(torch::equal(d.images, expected));
  for (int64_t i = 0; i < d.size(); ++i) EXPECT_EQ(d.labels[i].item<int64_t>(), label(first + i)) << i;
}

class Cifar10 : public ::testing::Test {
 protected:
  void SetUp() override {
    // Inside the folder the archive unpacks to, with batch sizes 1..5 records.
    dir_ = root_ / "cifar-10-batches-bin";
    int64_t r = 0;
    for (int b = 1; b <= 5; ++b) {
      write_bytes(dir_ + "/data_batch_" + std::to_string(b) + ".bin", batch(r, b, cifar10_label));
      r += b;
    }
    write_bytes(dir_ + "/test_batch.bin", batch(100, 4, cifar10_label));
  }
  TempDir root_{"cifar10"};
  std::string dir_;
};

TEST_F(Cifar10, ReadsAllBatchesInOrder) {
  const auto s = load_cifar10(root_.path());
  EXPECT_EQ(s.train.size(), 15);
  EXPECT_EQ(s.test.size(), 4);
  EXPECT_EQ(s.train.images.sizes(), torch::IntArrayRef({15, 3, 32, 32}));
  expect_records(s.train, 0, [](int64_t r) { return (r * 3) % 10; });
  expect_records(s.test, 100, [](int64_t r) { return (r * 3) % 10; });
  ASSERT_EQ(s.train.classes.size(), 10u);
  EXPECT_EQ(s.train.classes[7], "7");
  EXPECT_EQ(s.train.name, "cifar10");
  EXPECT_NO_THROW(s.train.validate());
}

TEST_F(Cifar10, ClassNamesFromMetaFile) {
  write_text(dir_ + "/batches.meta.txt",
             "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  const auto s = load_cifar10(dir_);  // the batch folder itself works as root too
  ASSERT_EQ(s.train.classes.size(), 10u);
  EXPECT_EQ(s.train.classes[0], "airplane");
  EXPECT_EQ(s.test.classes[9], "truck");

  write_text(dir_ + "/batches.meta.txt", "airplane\nautomobile\n");
  expect_message(error_of([&] { load_cifar10(root_.path()); }),
                 {dir_ + "/batches.meta.txt", "2 class names", "expected 10"});
}

TEST_F(Cifar10, TruncatedEmptyMissingAndOutOfRange) {
  const auto b3 = dir_ + "/data_batch_3.bin";
  auto bytes = read_bytes(b3);
  bytes.resize(bytes.size() - 100);
  write_bytes(b3, bytes);
  expect_message(error_of([&] { load_cifar10(root_.path()); }),
                 {b3, "truncated", "3073-byte", "2 complete records"});

  write_bytes(b3, {});
  expect_message(error_of([&] { load_cifar10(root_.path()); }), {b3, "file is empty"});

  std::filesystem::remove(b3);
  expect_message(error_of([&] { load_cifar10(root_.path()); }), {b3, "not found"});

  const auto t = dir_ + "/test_batch.bin";
  write_bytes(b3, batch(0, 3, cifar10_label));
  write_bytes(t, batch(0, 2, [](int64_t r) { return std::vector<uint8_t>{uint8_t(r ? 10 : 0)}; }));
  expect_message(error_of([&] { load_cifar10(root_.path()); }),
                 {t, "label 10 of record 1", "out of range for 10 classes"});
}

TEST(Cifar100, UsesFineLabelsAndNames) {
  TempDir root("cifar100");
  write_bytes(root / "train.bin", batch(0, 7, cifar100_labels));
  write_bytes(root / "test.bin", batch(50, 3, cifar100_labels));
  auto fine = [](int64_t r) { return (r * 37 + 5) % 100; };
  auto s = load_cifar100(root.path());
  EXPECT_EQ(s.train.size(), 7);
  EXPECT_EQ(s.test.size(), 3);
  expect_records(s.train, 0, fine);
  expect_records(s.test, 50, fine);
  EXPECT_EQ(s.train.classes.size(), 100u);
  EXPECT_EQ(s.train.classes[42], "42");

  std::string names;
  for (int c = 0; c < 100; ++c) names += "class_" + std::to_string(c) + "\r\n";  // Windows endings
  write_text(root / "fine_label_names.txt", names);
  s = load_cifar100(root.path());
  EXPECT_EQ(s.train.classes[42], "class_42");

  // A CIFAR-10 file read as CIFAR-100 has the wrong record size.
  write_bytes(root / "test.bin", batch(0, 5, cifar10_label));
  expect_message(error_of([&] { load_cifar100(root.path()); }), {root / "test.bin", "3074-byte"});
}

TEST(Cifar, GzipBatchesAreRecognisedByContent) {
  TempDir root("cifar_gz");
  const auto bytes = batch(0, 3, cifar10_label);
  write_gz(root / "b.bin", bytes);
  const auto d = load_cifar_batches({root / "b.bin"}, kCifar10Format, {}, "x");
  expect_records(d, 0, [](int64_t r) { return (r * 3) % 10; });
}

}  // namespace
}  // namespace selfsup::data
