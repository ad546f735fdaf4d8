// IDX (MNIST / Fashion-MNIST) images and labels: headers that claim more than the file holds,
// odd dimension counts, wrong magic numbers, truncation.
#include "fuzz_file.h"
#include "selfsup/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = selfsup::fuzz::write_input("input.idx", data, size);
  selfsup::fuzz::expect_clean([&] { selfsup::data::read_idx_images(path); });
  selfsup::fuzz::expect_clean([&] { selfsup::data::read_idx_labels(path); });
  return 0;
}
