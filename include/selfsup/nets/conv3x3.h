#pragma once
// A 3x3 convolution, stride 1, padding 1, no bias: the ConvNet's layers after the first.
//
// Why our own: LibTorch 1.13 runs fp32 convolutions through oneDNN's direct algorithm and
// reorders every operand between NCHW and oneDNN's blocked layout on each call, the weights and
// the saved input again in the backward pass. Measured on this project's 2-core AVX-512 machine
// (batch 512, 32->64 channels at 14x14 and 64->128 at 7x7), forward + both backward passes took
// 75 ms through torch::conv2d against 38 ms through oneDNN's Winograd F(4x4, 3x3) kernels, which
// do 2.25-4x fewer multiplications per output. Here the input is reordered once and kept in the
// blocked layout for the weight gradient, and the output gradient is reordered once for both
// backward passes.
//
// Winograd changes the rounding, not the result: fp32 outputs differ from the direct algorithm's
// by ~1e-6 relative (tests/nets/conv3x3_test.cpp bounds them against a float64 reference).
// Falls back to torch::conv2d when oneDNN's headers were missing at build time, on other devices
// and dtypes, under autocast, and for a non-contiguous input. Shapes the Winograd kernels do not
// take (channels not a multiple of 16, an ISA without AVX-512) use oneDNN's direct algorithm.
#include <torch/torch.h>

#include "selfsup/nets/layout.h"

namespace selfsup::functional {

enum class Conv3x3Algorithm {
  kAuto,      ///< Winograd where oneDNN offers it for the shape, else oneDNN's direct algorithm
  kWinograd,  ///< Winograd or an error
  kDirect,    ///< oneDNN's direct algorithm, with the reorders done once as in kAuto
  kTorch,     ///< torch::conv2d
};

struct Conv3x3FuncOptions {
  TORCH_ARG(Conv3x3Algorithm, algorithm) = Conv3x3Algorithm::kAuto;
  /// The layout of x (and of its gradient).
  TORCH_ARG(Layout, src_layout) = Layout::kNCHW;
  /// The layout of the output (and of its gradient).
  TORCH_ARG(Layout, dst_layout) = Layout::kNCHW;
};

/// conv2d(x, weight, no bias, stride 1, padding 1) for x [N, C, H, W] and weight [O, C, 3, 3];
/// x and the output in the layouts the options name (layout.h).
torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, const Conv3x3FuncOptions& options = {});

/// Whether this build calls oneDNN itself (its headers were found at build time).
bool conv3x3_uses_onednn();

}  // namespace selfsup::functional
