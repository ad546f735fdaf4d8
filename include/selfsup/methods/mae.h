#pragma once
// What a masked autoencoder offers beyond its loss: its reconstruction of partly hidden images,
// which the run's picture (eval/reconstruct.h) and `selfsup eval --reconstruct` draw.
#include <torch/torch.h>

#include "selfsup/nets/mae.h"

namespace selfsup::methods {

/// Images [N, C, H, W] in the normalised space the method trains in: mask, masked input,
/// reconstruction, reconstruction with the visible patches pasted back (nets/mae.h).
using Reconstruction = nets::MaeImages;

class Reconstructs {
 public:
  virtual ~Reconstructs() = default;
  /// Hides, in each image, the patches `noise` [N, L] orders last (the training mask ratio), and
  /// draws the prediction (nets::mae_images).
  virtual Reconstruction reconstruct(const torch::Tensor& images, const torch::Tensor& noise) = 0;
  /// L, the patches per image.
  virtual int64_t num_patches() const = 0;
  /// How often a training run draws its picture, in epochs (0: only at the end).
  virtual int64_t picture_every_epochs() const = 0;
};

}  // namespace selfsup::methods
