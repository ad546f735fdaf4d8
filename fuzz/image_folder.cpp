// Image files (PNG, JPEG, BMP: stb_image decodes them) read alone and as a one-image folder,
// grey and RGB: corrupt chunks, huge declared sizes, truncation.
#include <cstdlib>

#include "fuzz_file.h"
#include "selfsup/data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A few bytes of BMP or JPEG header may claim a picture the reader accepts (up to 256 MB) and
  // stb_image fills with zeros, which takes minutes under the sanitizers: the search stays on parsing by
  // skipping BMPs that claim more than 4 MB (read here by hand: stb_image's own header reader is
  // what is under test). The bound itself has unit tests.
  if (size >= 26 && data[0] == 'B' && data[1] == 'M') {
    auto le32 = [&](size_t at) {
      return static_cast<int32_t>(uint32_t{data[at]} | uint32_t{data[at + 1]} << 8 | uint32_t{data[at + 2]} << 16 |
                                  uint32_t{data[at + 3]} << 24);
    };
    constexpr int64_t kMax = int64_t{1} << 22;
    const int64_t w = std::llabs(int64_t{le32(18)}), h = std::llabs(int64_t{le32(22)});
    if (w > kMax || h > kMax || w * h * 4 > kMax) return 0;
  }
  // The same for a JPEG frame header (SOF0-2: height and width, big-endian, after the precision).
  for (size_t i = 0; i + 9 <= size; ++i) {
    if (data[i] == 0xFF && data[i + 1] >= 0xC0 && data[i + 1] <= 0xC2) {
      const int64_t h = data[i + 5] << 8 | data[i + 6], w = data[i + 7] << 8 | data[i + 8];
      if (w * h * 4 > (int64_t{1} << 22)) return 0;
    }
  }
  // The extension only decides whether the folder scan takes the file; stb_image sniffs the format.
  const std::string path = selfsup::fuzz::write_input("folder/a/input.png", data, size);
  for (int64_t channels : {0, 1, 3}) selfsup::fuzz::expect_clean([&] { selfsup::data::load_image(path, channels); });
  selfsup::fuzz::expect_clean([&] {
    selfsup::data::load_image_folder_split(selfsup::fuzz::scratch_dir() + "/folder", {}, "fuzz");
  });
  return 0;
}
