#pragma once
// Noise2Void's blind-spot training (Krull et al. 2019): a random few pixels of each noisy patch
// are replaced by the value of a random other pixel of their window, and the loss is the squared
// error at those pixels only, against their original noisy values. The network never sees the
// value it is asked for there, so it cannot learn the identity; with zero-mean pixel-independent
// noise the best prediction is the clean value.
//
// A replacement value is never taken from another masked pixel: otherwise a masked pixel's own
// value could reach the network through its neighbour's replacement.
#include <torch/torch.h>

namespace selfsup::losses {

struct BlindSpotOptions {
  /// Share of each image's pixels masked (at least one pixel per image); in (0, 0.25].
  TORCH_ARG(double, fraction) = 0.01;
  /// Side of the square window the replacement is drawn from (odd, >= 3).
  TORCH_ARG(int64_t, window) = 5;
};

struct BlindSpot {
  torch::Tensor input;  ///< like the noisy images, masked pixels replaced (every channel alike)
  torch::Tensor mask;   ///< bool [N, 1, H, W], true at the masked pixels
  torch::Tensor source; ///< int64 [M, 2] (CPU): for the M masked pixels in row-major order of
                        ///< (image, y, x), the (y, x) their value was taken from
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::BlindSpot;
using losses::BlindSpotOptions;

/// Masks noisy [N, C, H, W] (float, any device), drawing positions and replacements from the CPU
/// generator gen.
BlindSpot blind_spot(const torch::Tensor& noisy, const BlindSpotOptions& options, torch::Generator& gen);

/// Mean over the masked pixels (and channels) of (prediction - target)^2; mask bool [N, 1, H, W].
torch::Tensor masked_mse(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& mask);

}  // namespace selfsup::functional
