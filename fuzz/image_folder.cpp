// Image files (PNG, JPEG, BMP: stb_image decodes them) read alone and as a one-image folder,
// grey and RGB: corrupt chunks, huge declared sizes, truncation.
#include "fuzz_file.h"
#include "selfsup/data/image_folder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The extension only decides whether the folder scan takes the file; stb_image sniffs the format.
  const std::string path = selfsup::fuzz::write_input("folder/a/input.png", data, size);
  for (int64_t channels : {0, 1, 3}) selfsup::fuzz::expect_clean([&] { selfsup::data::load_image(path, channels); });
  selfsup::fuzz::expect_clean([&] {
    selfsup::data::load_image_folder_split(selfsup::fuzz::scratch_dir() + "/folder", {}, "fuzz");
  });
  return 0;
}
