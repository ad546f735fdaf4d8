#pragma once
// The picture of a masked autoencoder at work: for a fixed set of test images, the rows original,
// masked input, reconstruction, and reconstruction with the visible patches pasted back. The run
// folder gets one every `train.picture_every_epochs` and at the end; `selfsup eval --checkpoint RUN
// --reconstruct FILE` draws the same one from a checkpoint.
#include <torch/torch.h>

#include <cstdint>

#include "selfsup/data/dataset.h"
#include "selfsup/methods/mae.h"
#include "selfsup/train/loader.h"

namespace selfsup::eval {

/// The images the picture shows: the first image of each of the first `count` classes met in
/// `test` (in file order), shown in class order; with fewer classes, the next images in order.
data::Dataset picture_images(const data::Dataset& test, int64_t count = 8);

/// The picture as images [4 N, C, H, W] in [0, 1], row by row: originals, masked inputs,
/// reconstructions, pasted. The hidden patches are drawn from `seed`, so every picture of a run
/// hides the same ones and pictures of successive epochs compare.
torch::Tensor reconstruction_rows(methods::Reconstructs& model, const data::Dataset& images,
                                  const train::Normalization& norm, uint64_t seed, const torch::Device& device);

/// reconstruction_rows as the bytes of a PNG, each image enlarged 4 times.
std::string reconstruction_png(methods::Reconstructs& model, const data::Dataset& images,
                               const train::Normalization& norm, uint64_t seed, const torch::Device& device);

}  // namespace selfsup::eval
