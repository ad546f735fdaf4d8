#pragma once
// How the ConvNet's CPU kernels store an activation [N, C, H, W] between layers.
//
// oneDNN's Winograd convolutions (conv3x3.h) read and write nChw16c: channels in blocks of 16,
// the 16 of a block interleaved at each pixel. Converting to and from NCHW around every
// convolution moved ~115 MB per SimCLR step on Fashion-MNIST (9% of the fp32 step on a 2-core
// CPU), so in training the ConvNet keeps its activations blocked from the first pool to the last
// batch norm, whose kernels read and write either layout (batchnorm.h).
#include <torch/torch.h>

namespace selfsup::functional {

enum class Layout {
  kNCHW,       ///< a contiguous [N, C, H, W] tensor
  kBlocked16,  ///< nChw16c: a contiguous [N, C / 16, H, W, 16] tensor
};

/// x [N, C, H, W], C a multiple of 16, as a contiguous nChw16c tensor [N, C / 16, H, W, 16].
/// Differentiable (torch's own view ops).
torch::Tensor to_blocked16(const torch::Tensor& x);

/// The inverse of to_blocked16: [N, C / 16, H, W, 16] to a contiguous [N, C, H, W].
torch::Tensor from_blocked16(const torch::Tensor& x);

}  // namespace selfsup::functional
