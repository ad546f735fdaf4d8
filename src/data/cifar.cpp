#include "selfsup/data/cifar.h"

#include <c10/util/Exception.h>

#include <cstring>

#include "selfsup/data/io.h"

namespace selfsup::data {

const CifarFormat kCifar10Format{1, 0, 10};
const CifarFormat kCifar100Format{2, 1, 100};

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::vector<std::string> default_names(int64_t k) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < k; ++c) names.push_back(std::to_string(c));
  return names;
}

// Class names from the optional text file next to the batches; otherwise "0".."k-1".
std::vector<std::string> class_names(const std::string& path, int64_t k) {
  if (!file_exists(path)) return default_names(k);
  auto names = read_lines(path);
  TORCH_CHECK(static_cast<int64_t>(names.size()) == k, path, ": has ", names.size(),
              " class names, expected ", k);
  return names;
}

// The archives unpack into a sub-folder; accept either that folder or its parent.
std::string batch_dir(const std::string& root, const std::string& sub, const std::string& probe) {
  const std::string nested = root + "/" + sub;
  return file_exists(nested + "/" + probe) ? nested : root;
}

}  // namespace

Dataset load_cifar_batches(const std::vector<std::string>& files, const CifarFormat& format,
                           std::vector<std::string> classes, std::string name) {
  TORCH_CHECK(!files.empty(), name, ": no CIFAR batch files given");
  TORCH_CHECK(format.label_bytes >= 1 && format.label_index >= 0 &&
                  format.label_index < format.label_bytes && format.num_classes > 0,
              "load_cifar_batches: invalid format (label_bytes ", format.label_bytes,
              ", label_index ", format.label_index, ", num_classes ", format.num_classes, ")");
  if (classes.empty()) classes = default_names(format.num_classes);
  const int64_t k = static_cast<int64_t>(classes.size());
  const int64_t record = format.label_bytes + kPixels;

  std::vector<std::vector<uint8_t>> blobs;
  int64_t total = 0;
  for (const auto& f : files) {
    FileReader in(f);
    auto bytes = in.gzipped() ? in.read_all() : in.read_up_to(in.file_size());
    const int64_t n = static_cast<int64_t>(bytes.size());
    TORCH_CHECK(n > 0, f, ": file is empty");
    TORCH_CHECK(n % record == 0, f, ": truncated: ", n, " bytes is not a whole number of ", record,
                "-byte CIFAR records (", n / record, " complete records, then ", n % record,
                " stray bytes)");
    total += n / record;
    blobs.push_back(std::move(bytes));
  }

  Dataset d;
  d.images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  d.labels = torch::empty({total}, torch::kLong);
  auto* img = d.images.data_ptr<uint8_t>();
  auto* lab = d.labels.data_ptr<int64_t>();
  int64_t i = 0;
  for (size_t b = 0; b < blobs.size(); ++b) {
    const auto& bytes = blobs[b];
    const int64_t n = static_cast<int64_t>(bytes.size()) / record;
    for (int64_t r = 0; r < n; ++r, ++i) {
      const uint8_t* rec = bytes.data() + r * record;
      const int64_t label = rec[format.label_index];
      TORCH_CHECK(label < k, files[b], ": label ", label, " of record ", r, " is out of range for ",
                  k, " classes");
      lab[i] = label;
      // Records already store planes R, G, B: exactly the [C, H, W] layout.
      std::memcpy(img + i * kPixels, rec + format.label_bytes, kPixels);
    }
  }
  d.classes = std::move(classes);
  d.name = std::move(name);
  return d;
}

DataSplits load_cifar10(const std::string& root) {
  const std::string dir = batch_dir(root, "cifar-10-batches-bin", "test_batch.bin");
  const auto classes = class_names(dir + "/batches.meta.txt", kCifar10Format.num_classes);
  std::vector<std::string> train_files;
  for (int b = 1; b <= 5; ++b) train_files.push_back(dir + "/data_batch_" + std::to_string(b) + ".bin");
  DataSplits s;
  s.train = load_cifar_batches(train_files, kCifar10Format, classes, "cifar10");
  s.test = load_cifar_batches({dir + "/test_batch.bin"}, kCifar10Format, classes, "cifar10");
  return s;
}

DataSplits load_cifar100(const std::string& root) {
  const std::string dir = batch_dir(root, "cifar-100-binary", "test.bin");
  const auto classes = class_names(dir + "/fine_label_names.txt", kCifar100Format.num_classes);
  DataSplits s;
  s.train = load_cifar_batches({dir + "/train.bin"}, kCifar100Format, classes, "cifar100");
  s.test = load_cifar_batches({dir + "/test.bin"}, kCifar100Format, classes, "cifar100");
  return s;
}

}  // namespace selfsup::data
