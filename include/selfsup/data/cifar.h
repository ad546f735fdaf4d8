#pragma once
// CIFAR-10 / CIFAR-100 binary format: records of label byte(s) followed by 3072 bytes of
// 32x32 pixels stored plane by plane (R, G, B).
#include <string>
#include <vector>

#include "selfsup/data/dataset.h"

namespace selfsup::data {

struct CifarFormat {
  int64_t label_bytes;   // 1 for CIFAR-10, 2 for CIFAR-100 (coarse, fine)
  int64_t label_index;   // which label byte is the class: 0 for CIFAR-10, 1 (fine) for CIFAR-100
  int64_t num_classes;   // 10 or 100
};
extern const CifarFormat kCifar10Format;
extern const CifarFormat kCifar100Format;

/// Concatenates the records of `files`; labels must be < classes.size().
Dataset load_cifar_batches(const std::vector<std::string>& files, const CifarFormat& format,
                           std::vector<std::string> classes, std::string name);

/// root holds data_batch_1..5.bin, test_batch.bin and optionally batches.meta.txt (class names);
/// root/cifar-10-batches-bin (as the archive unpacks) is accepted too.
DataSplits load_cifar10(const std::string& root);
/// root holds train.bin, test.bin and optionally fine_label_names.txt; root/cifar-100-binary too.
DataSplits load_cifar100(const std::string& root);

}  // namespace selfsup::data
