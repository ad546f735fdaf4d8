// Image-folder reader on tiny PNG/JPEG files written here with stb_image_write.
#include <gtest/gtest.h>

#include <functional>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "data_test_util.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/image_folder.h"

namespace selfsup::data {
namespace {

using namespace selfsup::data::testing;

uint8_t value(int seed, int c, int y, int x) { return static_cast<uint8_t>((seed * 41 + c * 89 + y * 11 + x * 3) % 256); }

// Writes a PNG of `comp` channels (1 grey, 3 RGB, 4 RGBA) whose pixels follow value(seed, ...).
void write_png(const std::string& path, int w, int h, int comp, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::vector<uint8_t> px(static_cast<size_t>(w * h * comp));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < comp; ++c) px[(y * w + x) * comp + c] = value(seed, c, y, x);
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp)) << path;
}

// The [C, H, W] tensor write_png(.., comp = C, seed) encodes.
torch::Tensor expected_image(int w, int h, int comp, int seed) {
  auto t = torch::empty({comp, h, w}, torch::kUInt8);
  auto a = t.accessor<uint8_t, 3>();
  for (int c = 0; c < comp; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) a[c][y][x] = value(seed, c, y, x);
  return t;
}

TEST(ImageFolder, TrainAndTestSplitsWithSortedClasses) {
  TempDir root("folder");
  // Class folders created out of order: labels must follow the sorted names.
  write_png(root / "train/zebra/b.png", 5, 4, 3, 1);
  write_png(root / "train/zebra/a.png", 5, 4, 3, 2);
  write_png(root / "train/ant/x.PNG", 5, 4, 3, 3);
  write_text(root / "train/ant/notes.txt", "not an image, ignored");
  write_png(root / "test/zebra/t.png", 5, 4, 3, 4);
  write_png(root / "test/ant/u.png", 5, 4, 3, 5);

  const auto s = load_image_folder(root.path());
  EXPECT_EQ(s.train.classes, (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(s.test.classes, s.train.classes);
  EXPECT_EQ(s.train.images.sizes(), torch::IntArrayRef({3, 3, 4, 5}));
  EXPECT_EQ(s.test.images.sizes(), torch::IntArrayRef({2, 3, 4, 5}));
  EXPECT_TRUE(torch::equal(s.train.labels, torch::tensor({0, 1, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.test.labels, torch::tensor({0, 1}, torch::kLong)));
  // Files sorted within a class: ant/x (3), zebra/a (2), zebra/b (1). PNG is lossless.
  EXPECT_TRUE(torch::equal(s.train.images[0], expected_image(5, 4, 3, 3)));
  EXPECT_TRUE(torch::equal(s.train.images[1], expected_image(5, 4, 3, 2)));
  EXPECT_TRUE(torch::equal(s.train.images[2], expected_image(5, 4, 3, 1)));
  EXPECT_TRUE(torch::equal(s.test.images[1], expected_image(5, 4, 3, 4)));
  EXPECT_TRUE(s.train.images.is_contiguous());

  const auto by_name = load_dataset("image-folder", root.path());
  EXPECT_TRUE(torch::equal(by_name.train.images, s.train.images));
  expect_message(describe(by_name), {"image-folder", "3x4x5", "zebra"});
}

TEST(ImageFolder, GreyStaysOneChannelUnlessMixedWithColour) {
  TempDir root("grey");
  write_png(root / "a/1.png", 3, 2, 1, 7);
  write_png(root / "b/1.png", 3, 2, 1, 8);
  auto s = load_image_folder(root.path());  // no train/test folders: all train, empty test
  EXPECT_EQ(s.train.images.sizes(), torch::IntArrayRef({2, 1, 2, 3}));
  EXPECT_TRUE(torch::equal(s.train.images[1], expected_image(3, 2, 1, 8)));
  EXPECT_EQ(s.test.size(), 0);
  EXPECT_EQ(s.test.images.sizes(), torch::IntArrayRef({0, 1, 2, 3}));
  EXPECT_EQ(s.test.classes, s.train.classes);

  write_png(root / "b/2.png", 3, 2, 4, 9);  // RGBA: alpha is dropped, everything becomes RGB
  s = load_image_folder(root.path());
  EXPECT_EQ(s.train.images.sizes(), torch::IntArrayRef({3, 3, 2, 3}));
  EXPECT_TRUE(torch::equal(s.train.images[0], expected_image(3, 2, 1, 7).expand({3, 2, 3})));
  EXPECT_TRUE(torch::equal(s.train.images[2], expected_image(3, 2, 4, 9).narrow(0, 0, 3)));
}

TEST(ImageFolder, JpegDecodes) {
  TempDir root("jpg");
  std::vector<uint8_t> px(8 * 8 * 3, 128);
  std::filesystem::create_directories(root / "c");
  ASSERT_TRUE(stbi_write_jpg((root / "c/a.jpg").c_str(), 8, 8, 3, px.data(), 95));
  const auto img = load_image(root / "c/a.jpg");
  EXPECT_EQ(img.sizes(), torch::IntArrayRef({3, 8, 8}));
  EXPECT_LE((img.to(torch::kInt) - 128).abs().max().item<int>(), 2);  // lossy, but flat stays flat
  EXPECT_EQ(load_image(root / "c/a.jpg", 1).sizes(), torch::IntArrayRef({1, 8, 8}));
}

// A Huffman table declaring more codes than a JPEG can have made stb_image write past its table
// (found by fuzz_image_folder): refused, naming the file, before stb_image reads it.
TEST(ImageFolder, JpegWithAnOversizedHuffmanTableIsRefused) {
  TempDir root("dht");
  std::vector<uint8_t> px(8 * 8 * 3, 100);
  std::filesystem::create_directories(root / "c");
  const std::string path = root / "c/a.jpg";
  ASSERT_TRUE(stbi_write_jpg(path.c_str(), 8, 8, 3, px.data(), 90));
  auto bytes = read_bytes(path);
  size_t dht = 0;
  for (size_t i = 2; i + 1 < bytes.size() && !dht; ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC4) dht = i;
  ASSERT_GT(dht, 0u) << "stb_image_write's JPEG has no DHT segment";
  bytes[dht + 5 + 14] = 200;  // counts of the first table's 15- and 16-bit codes: > 256 codes in all
  bytes[dht + 5 + 15] = 200;
  write_bytes(path, bytes);
  for (auto read : {std::function<void()>([&] { load_image(path); }),
                    std::function<void()>([&] { load_image_folder(root.path()); })}) {
    expect_message(error_of(read), {path, "Huffman table declares", "at most 256"});
  }
}

// A 70-byte BMP whose header claims 718515 x 24912 pixels: refused before 53 GB are allocated
// (found by fuzz_image_folder).
TEST(ImageFolder, AHeaderClaimingAHugeImageIsRefusedBeforeAllocating) {
  TempDir root("huge");
  const std::string path = root / "a.bmp";
  std::vector<uint8_t> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0,
                              0xb3, 0xf6, 0x0a, 0, 0x50, 0x61, 0, 0, 1, 0, 24, 0};
  bmp.resize(54, 0);  // no compression, default palette
  bmp.resize(70, 7);
  write_bytes(path, bmp);
  expect_message(error_of([&] { load_image(path); }), {path, "its header claims 718515x24912 pixels"});
  // In a folder, where the whole folder's size is bounded by the memory, one image still is by 256 MB.
  bmp[18] = 3, bmp[19] = bmp[20] = bmp[21] = 0;   // width 3
  bmp[22] = 2, bmp[23] = bmp[24] = 0, bmp[25] = 0x3d;  // height 1023410178: 9.2 GB
  std::filesystem::create_directories(root / "c");
  write_bytes(root / "c/a.bmp", bmp);
  expect_message(error_of([&] { load_image_folder_split(root / "", {}, "huge"); }),
                 {root / "c/a.bmp", "its header claims 3x1023410178 pixels"});
}

// A BMP stored top-down has a negative height in its header; it loads like any other.
TEST(ImageFolder, TopDownBmpLoads) {
  TempDir root("topdown");
  const std::string path = root / "a.bmp";
  std::vector<uint8_t> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0,
                              2, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 1, 0, 24, 0};  // 2 x -2
  bmp.resize(54, 0);
  for (int row = 0; row < 2; ++row)  // BGR, each row padded to 4 bytes
    for (int b : {10 * row + 1, 10 * row + 2, 10 * row + 3, 10 * row + 4, 10 * row + 5, 10 * row + 6, 0, 0})
      bmp.push_back(static_cast<uint8_t>(b));
  write_bytes(path, bmp);
  const auto img = load_image(path);
  ASSERT_EQ(img.sizes(), torch::IntArrayRef({3, 2, 2}));
  EXPECT_EQ(img[2][0][0].item<int>(), 1);   // blue of the first stored pixel: the top row
  EXPECT_EQ(img[0][1][1].item<int>(), 16);  // red of the last one
}

TEST(ImageFolder, EmptyClassFolderIsNamed) {
  TempDir root("empty");
  write_png(root / "a/1.png", 3, 2, 3, 1);
  std::filesystem::create_directories(root / "b");
  write_text(root / "b/readme.txt", "no images here");
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root / "b", "no images"});
}

TEST(ImageFolder, UndecodableImageIsNamed) {
  TempDir root("garbage");
  write_png(root / "a/1.png", 3, 2, 3, 1);
  write_text(root / "a/2.png", "this is not a PNG file at all");
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root / "a/2.png", "cannot decode"});

  // A valid header with its pixel data cut off fails at decoding, still naming the file.
  auto bytes = read_bytes(root / "a/1.png");
  bytes.resize(40);
  write_bytes(root / "a/2.png", bytes);
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root / "a/2.png", "cannot decode"});
}

TEST(ImageFolder, InconsistentSizesNameTheFirstOffender) {
  TempDir root("sizes");
  write_png(root / "train/a/1.png", 3, 2, 3, 1);
  write_png(root / "train/a/2.png", 3, 2, 3, 2);
  write_png(root / "train/b/1.png", 4, 2, 3, 3);
  write_png(root / "train/b/2.png", 5, 2, 3, 4);
  expect_message(error_of([&] { load_image_folder(root.path()); }),
                 {root / "train/b/1.png", "is 4x2", root / "train/a/1.png", "3x2"});

  // The test split must match the train split's size too.
  std::filesystem::remove_all(root / "train/b");
  write_png(root / "test/a/1.png", 2, 2, 3, 5);
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root / "test/a/1.png", "is 2x2"});
}

TEST(ImageFolder, TestClassMustExistInTrain) {
  TempDir root("classes");
  write_png(root / "train/a/1.png", 3, 2, 3, 1);
  write_png(root / "test/b/1.png", 3, 2, 3, 2);
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root / "test/b", "'b'"});
}

TEST(ImageFolder, MissingRootAndNoClassFolders) {
  expect_message(error_of([] { load_image_folder("/nonexistent/selfsup_images"); }),
                 {"/nonexistent/selfsup_images", "not found"});
  expect_message(error_of([] { load_dataset("image-folder", ""); }), {"image-folder", "root"});
  TempDir root("flat");
  write_png(root / "1.png", 3, 2, 3, 1);
  expect_message(error_of([&] { load_image_folder(root.path()); }), {root.path(), "no class folders"});
  expect_message(error_of([&] { load_image(root / "nope.png"); }), {root / "nope.png", "not found"});
}

}  // namespace
}  // namespace selfsup::data
