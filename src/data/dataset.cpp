#include "selfsup/data/dataset.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "selfsup/core/config.h"
#include "selfsup/data/cifar.h"
#include "selfsup/data/idx.h"
#include "selfsup/data/image_folder.h"

namespace selfsup::data {

int64_t Dataset::size() const { return images.defined() ? images.size(0) : 0; }
int64_t Dataset::channels() const { return images.defined() ? images.size(1) : 0; }
int64_t Dataset::height() const { return images.defined() ? images.size(2) : 0; }
int64_t Dataset::width() const { return images.defined() ? images.size(3) : 0; }

void Dataset::validate() const {
  TORCH_CHECK(images.defined() && labels.defined(), "data set '", name, "': images or labels undefined");
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8 && images.is_contiguous(),
              "data set '", name, "': images must be contiguous uint8 [N, C, H, W], got ",
              images.scalar_type(), " ", images.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.scalar_type() == torch::kLong, "data set '", name,
              "': labels must be int64 [N], got ", labels.scalar_type(), " ", labels.sizes());
  TORCH_CHECK(labels.size(0) == images.size(0), "data set '", name, "': ", images.size(0),
              " images but ", labels.size(0), " labels");
  if (labels.numel() > 0) {
    const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < num_classes(), "data set '", name, "': labels span [", lo, ", ", hi,
                "] but there are ", num_classes(), " classes");
  }
}

Dataset Dataset::subset(const torch::Tensor& indices) const {
  TORCH_CHECK(indices.defined() && indices.dim() == 1 &&
                  c10::isIntegralType(indices.scalar_type(), /*includeBool=*/false),
              "Dataset::subset: indices must be a 1-D integer tensor, got ",
              indices.defined() ? indices.sizes() : torch::IntArrayRef{});
  if (indices.numel() > 0) {
    const int64_t lo = indices.min().item<int64_t>(), hi = indices.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < size(), "Dataset::subset: indices span [", lo, ", ", hi,
                "] but data set '", name, "' has ", size(), " examples");
  }
  const auto idx = indices.to(images.device(), torch::kLong);
  return {images.index_select(0, idx), labels.index_select(0, idx.to(labels.device())), classes, name};
}

Dataset Dataset::head(int64_t n) const {
  TORCH_CHECK(n >= 0, "Dataset::head: n must be >= 0, got ", n);
  n = std::min(n, size());
  return {images.narrow(0, 0, n), labels.narrow(0, 0, n), classes, name};
}

torch::Tensor Dataset::class_counts() const {
  if (!labels.defined() || labels.numel() == 0) return torch::zeros({num_classes()}, torch::kLong);
  return torch::bincount(labels.to(torch::kCPU), {}, num_classes());
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "mnist", "cifar10", "cifar100",
                                                 "image-folder"};
  return names;
}

namespace {

std::vector<std::string> digit_classes() {
  std::vector<std::string> c;
  for (int i = 0; i < 10; ++i) c.push_back(std::to_string(i));
  return c;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

}  // namespace

DataSplits load_dataset(const std::string& name_in, const std::string& root_in) {
  std::string name = name_in;
  std::replace(name.begin(), name.end(), '_', '-');  // fashion_mnist, as config folders are named
  const auto& names = dataset_names();
  TORCH_CHECK(std::find(names.begin(), names.end(), name) != names.end(), "unknown data set '",
              name_in, "' (expected one of: ", join(names, ", "), ")");
  TORCH_CHECK(name != "image-folder" || !root_in.empty(),
              "data set 'image-folder' needs a root folder (data.root / --root)");
  const std::string root = root_in.empty() ? "/usr/share/datasets/" + name : root_in;
  std::error_code ec;
  TORCH_CHECK(std::filesystem::is_directory(root, ec), name, ": data folder ", root, " not found");

  DataSplits s;
  if (name == "fashion-mnist") s = load_idx_dir(root, fashion_mnist_classes(), name);
  if (name == "mnist") s = load_idx_dir(root, digit_classes(), name);
  if (name == "cifar10") s = load_cifar10(root);
  if (name == "cifar100") s = load_cifar100(root);
  if (name == "image-folder") s = load_image_folder(root);
  s.train.validate();
  s.test.validate();
  return s;
}

DataSplits load_dataset(const selfsup::Config& cfg) {
  const auto name = cfg.get<std::string>("data.name", "fashion-mnist");
  const auto root = cfg.get<std::string>("data.root", "");
  const auto limit = cfg.get<int64_t>("data.limit", 0);
  TORCH_CHECK(limit >= 0, "data.limit must be >= 0 (0 = all), got ", limit);
  auto s = load_dataset(name, root);
  if (limit > 0) s.train = s.train.head(limit);
  TORCH_CHECK(s.train.size() > 0, "data set ", name, ": the training set is empty",
              root.empty() ? std::string() : " (data.root " + root + ")");
  return s;
}

std::string describe(const DataSplits& s) {
  const Dataset& ref = s.train.size() > 0 ? s.train : s.test;
  std::ostringstream o;
  o << "data set:    " << s.train.name << "\n"
    << "train:       " << s.train.size() << " images\n"
    << "test:        " << s.test.size() << " images\n"
    << "image shape: " << ref.channels() << "x" << ref.height() << "x" << ref.width()
    << " (CxHxW, uint8)\n"
    << "classes:     " << s.train.num_classes() << "\n";
  const auto train_counts = s.train.class_counts();
  const auto test_counts = s.test.class_counts();
  size_t width = 5;
  for (const auto& c : s.train.classes) width = std::max(width, c.size());
  o << "  " << std::setw(4) << "id" << "  " << std::left << std::setw(static_cast<int>(width))
    << "class" << std::right << std::setw(8) << "train" << std::setw(8) << "test" << "\n";
  for (int64_t c = 0; c < s.train.num_classes(); ++c) {
    o << "  " << std::setw(4) << c << "  " << std::left << std::setw(static_cast<int>(width))
      << s.train.classes[c] << std::right << std::setw(8) << train_counts[c].item<int64_t>()
      << std::setw(8) << (c < test_counts.numel() ? test_counts[c].item<int64_t>() : 0) << "\n";
  }
  return o.str();
}

}  // namespace selfsup::data
