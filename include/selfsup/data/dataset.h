#pragma once
// An in-memory image classification data set and the entry points that load one by name.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup {
class Config;
}

namespace selfsup::data {

/// Images kept as uint8 so a whole data set stays small; conversion to float happens per batch.
struct Dataset {
  torch::Tensor images;  // uint8 [N, C, H, W], contiguous
  torch::Tensor labels;  // int64 [N], values in [0, classes.size())
  std::vector<std::string> classes;
  std::string name;

  int64_t size() const;
  int64_t channels() const;
  int64_t height() const;
  int64_t width() const;
  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
  /// The examples at `indices` (1-D integer tensor), in that order; classes and name are kept.
  Dataset subset(const torch::Tensor& indices) const;
  /// The first min(n, size()) examples (a view: no copy).
  Dataset head(int64_t n) const;
  /// Number of examples of each class, int64 [num_classes()].
  torch::Tensor class_counts() const;
  /// Throws naming the data set when the tensors break the invariants above.
  void validate() const;
};

struct DataSplits {
  Dataset train, test;
};

/// Names accepted by load_dataset, in the order they are listed in error messages.
const std::vector<std::string>& dataset_names();

/// Loads a data set by name: fashion-mnist, mnist, cifar10, cifar100, image-folder. An empty root
/// means the data set's standard place (/usr/share/datasets/<name>).
DataSplits load_dataset(const std::string& name, const std::string& root);

/// Reads data.name (default fashion-mnist), data.root (default "") and data.limit (0 = all; else
/// only the first N training images are kept, the test set stays whole).
DataSplits load_dataset(const selfsup::Config& cfg);

/// Multi-line summary: name, counts, image shape CxHxW, classes with per-class counts.
std::string describe(const DataSplits& splits);

}  // namespace selfsup::data
