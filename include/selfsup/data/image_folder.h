#pragma once
// Folders of images, one sub-folder per class, decoded with stb_image.
#include <string>

#include "selfsup/data/dataset.h"

namespace selfsup::data {

/// Decodes one image file to uint8 [C, H, W]; channels 0 keeps the file's own (grey 1, else 3:
/// alpha is dropped), 1 or 3 converts. Throws naming the file when it cannot be decoded.
torch::Tensor load_image(const std::string& path, int64_t channels = 0);

/// dir/<class>/*.{png,jpg,jpeg,bmp} -> Dataset. `classes` empty means the sorted sub-folder names;
/// otherwise every sub-folder must be one of them (used to give the test split the train classes).
/// All images must have the same size; they are kept as 1 channel if all are grayscale, else RGB.
Dataset load_image_folder_split(const std::string& dir, std::vector<std::string> classes,
                                std::string name);

/// root/train/<class>/... and root/test/<class>/...; without train/ and test/ folders,
/// root/<class>/... is the train set and the test set is empty.
DataSplits load_image_folder(const std::string& root);

}  // namespace selfsup::data
