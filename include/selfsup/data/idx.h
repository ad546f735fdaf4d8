#pragma once
// IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
#include <string>
#include <vector>

#include "selfsup/data/dataset.h"

namespace selfsup::data {

/// IDX image file (magic 0x00000803: uint8, 3 dimensions N x H x W) -> uint8 [N, 1, H, W].
torch::Tensor read_idx_images(const std::string& path);
/// IDX label file (magic 0x00000801: uint8, 1 dimension N) -> int64 [N].
torch::Tensor read_idx_labels(const std::string& path);

/// Reads an image file and its label file. `classes` empty means "0".."max label"; otherwise every
/// label must index into it.
Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::vector<std::string> classes, std::string name);

/// Directory with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
/// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz].
DataSplits load_idx_dir(const std::string& root, const std::vector<std::string>& classes,
                        const std::string& name);

const std::vector<std::string>& fashion_mnist_classes();

}  // namespace selfsup::data
