#include "selfsup/data/idx.h"

#include <c10/util/Exception.h>

#include <cstdio>

#include "selfsup/data/io.h"

namespace selfsup::data {
namespace {

constexpr uint32_t kIdxImages = 0x00000803;  // uint8, 3 dimensions
constexpr uint32_t kIdxLabels = 0x00000801;  // uint8, 1 dimension

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

uint32_t read_be32(FileReader& in, const char* what) {
  unsigned char b[4];
  in.read_exact(b, 4, what);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

// Reads the magic number and dimensions of an IDX file.
std::vector<int64_t> read_header(FileReader& in, uint32_t magic, const char* kind) {
  const uint32_t got = read_be32(in, "IDX magic number");
  if (got != magic) {
    std::string hint;
    if (got == kIdxImages) hint = " (this is an IDX image file)";
    if (got == kIdxLabels) hint = " (this is an IDX label file)";
    TORCH_CHECK(false, in.path(), ": wrong magic number ", hex(got), hint, ", expected ", hex(magic),
                " for an IDX ", kind, " file");
  }
  std::vector<int64_t> dims(magic & 0xff);
  for (auto& d : dims) d = read_be32(in, "IDX header");
  return dims;
}

// Reads the payload announced by the header and insists that nothing else follows.
std::vector<uint8_t> read_payload(FileReader& in, int64_t bytes, const std::string& announced) {
  const int64_t header = in.position();
  if (!in.gzipped() && in.file_size() >= 0) {
    TORCH_CHECK(in.file_size() - header >= bytes, in.path(), ": truncated: header says ", announced,
                " (", bytes, " bytes) but the file holds only ", in.file_size() - header,
                " bytes after the header");
  }
  auto data = in.read_up_to(bytes);
  TORCH_CHECK(static_cast<int64_t>(data.size()) == bytes, in.path(), ": truncated: header says ",
              announced, " (", bytes, " bytes) but the data ends after ", data.size(), " bytes");
  TORCH_CHECK(in.at_end(), in.path(), ": has extra bytes after the ", announced,
              " its header announces");
  return data;
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  FileReader in(path);
  const auto dims = read_header(in, kIdxImages, "image");
  const int64_t n = dims[0], h = dims[1], w = dims[2];
  // Bounds keep a garbage header from overflowing the size computation.
  // Each dimension is below 2^32, so h and w are bounded alone before their product is formed.
  constexpr int64_t kMaxPixels = int64_t{1} << 24;
  TORCH_CHECK(n < (int64_t{1} << 31) && h > 0 && w > 0 && h <= kMaxPixels && w <= kMaxPixels &&
                  h * w <= kMaxPixels,
              path,
              ": implausible image dimensions ", n, "x", h, "x", w, " in the header");
  auto bytes = read_payload(in, n * h * w,
                            std::to_string(n) + " images of " + std::to_string(h) + "x" +
                                std::to_string(w));
  return bytes_to_tensor(std::move(bytes), {n, 1, h, w});
}

torch::Tensor read_idx_labels(const std::string& path) {
  FileReader in(path);
  const int64_t n = read_header(in, kIdxLabels, "label")[0];
  auto bytes = read_payload(in, n, std::to_string(n) + " labels");
  return bytes_to_tensor(std::move(bytes), {n}).to(torch::kLong);
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::vector<std::string> classes, std::string name) {
  Dataset d;
  d.images = read_idx_images(images_path);
  d.labels = read_idx_labels(labels_path);
  TORCH_CHECK(d.images.size(0) == d.labels.size(0), "image/label count mismatch: ", images_path,
              " has ", d.images.size(0), " images but ", labels_path, " has ", d.labels.size(0),
              " labels");
  if (classes.empty()) {
    const int64_t k = d.labels.numel() ? d.labels.max().item<int64_t>() + 1 : 0;
    for (int64_t c = 0; c < k; ++c) classes.push_back(std::to_string(c));
  }
  const auto bad = (d.labels >= static_cast<int64_t>(classes.size())).nonzero();
  if (bad.size(0) > 0) {
    const int64_t i = bad[0][0].item<int64_t>();
    TORCH_CHECK(false, labels_path, ": label ", d.labels[i].item<int64_t>(), " at index ", i,
                " is out of range for ", classes.size(), " classes");
  }
  d.classes = std::move(classes);
  d.name = std::move(name);
  return d;
}

DataSplits load_idx_dir(const std::string& root, const std::vector<std::string>& classes,
                        const std::string& name) {
  auto find = [&](const std::string& base) {
    const std::string p = root + "/" + base;
    return find_first_existing({p + ".gz", p}, name);
  };
  DataSplits s;
  s.train = load_idx(find("train-images-idx3-ubyte"), find("train-labels-idx1-ubyte"), classes, name);
  s.test = load_idx(find("t10k-images-idx3-ubyte"), find("t10k-labels-idx1-ubyte"), classes, name);
  return s;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace selfsup::data
