// Image files (PNG, JPEG, BMP: stb_image decodes them) read alone and as a one-image folder,
// grey and RGB: corrupt chunks, huge declared sizes, truncation.
#include <stb/stb_image.h>  // declarations only: the library compiles stb_image

#include <cstdlib>

#include "fuzz_file.h"
#include "selfsup/data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A few bytes of BMP header may claim a picture the reader accepts (up to 256 MB) and stb_image
  // fills with zeros, which takes minutes under the sanitizers: the search stays on parsing by
  // skipping what claims more than 4 MB. The bound itself has unit tests.
  int w = 0, h = 0, comp = 0;
  if (size <= (1u << 30) && stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &comp) &&
      int64_t{std::abs(w)} * std::abs(h) * 4 > (int64_t{1} << 22)) {
    return 0;
  }
  // The extension only decides whether the folder scan takes the file; stb_image sniffs the format.
  const std::string path = selfsup::fuzz::write_input("folder/a/input.png", data, size);
  for (int64_t channels : {0, 1, 3}) selfsup::fuzz::expect_clean([&] { selfsup::data::load_image(path, channels); });
  selfsup::fuzz::expect_clean([&] {
    selfsup::data::load_image_folder_split(selfsup::fuzz::scratch_dir() + "/folder", {}, "fuzz");
  });
  return 0;
}
