#pragma once
// The rotation task of S4L-Rotation (Zhai et al. 2019, after Gidaris et al. 2018): every image is
// shown in its four rotations by 0, 90, 180 and 270 degrees and a 4-way head predicts which; the
// loss is the cross-entropy of that prediction over all four copies of every image.
#include <torch/torch.h>

namespace selfsup::losses {

struct Rotations {
  torch::Tensor images;  ///< [4N, C, H, W]: rows kN .. kN + N - 1 are the images turned k quarter turns
  torch::Tensor labels;  ///< int64 [4N]: k (0, 1, 2, 3), on the images' device
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::Rotations;

/// The four rotations of square images x [N, C, H, H], counterclockwise (torch::rot90 over H, W:
/// a quarter turn maps pixel (i, j) to (H - 1 - j, i)).
Rotations four_rotations(const torch::Tensor& x);

/// Cross-entropy of 4-way rotation logits [4N, 4] against the labels of four_rotations.
torch::Tensor rotation_loss(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace selfsup::functional
