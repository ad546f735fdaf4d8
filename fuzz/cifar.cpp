// CIFAR-10 / CIFAR-100 binary batches: partial records, labels out of range.
#include "fuzz_file.h"
#include "selfsup/data/cifar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = selfsup::fuzz::write_input("input.bin", data, size);
  using selfsup::data::load_cifar_batches;
  selfsup::fuzz::expect_clean([&] {
    load_cifar_batches({path}, selfsup::data::kCifar10Format, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
                       "fuzz");
  });
  std::vector<std::string> hundred;
  for (int i = 0; i < 100; ++i) hundred.push_back(std::to_string(i));
  selfsup::fuzz::expect_clean(
      [&] { load_cifar_batches({path}, selfsup::data::kCifar100Format, hundred, "fuzz"); });
  return 0;
}
