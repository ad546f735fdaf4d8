#pragma once
// The ConvNet's first layer on grayscale images: a 3x3 convolution, stride 1, padding 1, no
// bias, from ONE input channel.
//
// Why our own: oneDNN runs this layer at ~30 GFLOP/s on a CPU that does ~300 in the next ones
// (one input channel leaves its GEMM-shaped kernels nothing to block on): 8% of a SimCLR step on
// Fashion-MNIST for 1% of its FLOPs. Here each output row is 9 shifted multiply-adds of padded
// input rows, compiled for AVX-512, AVX2 and plain x86-64 and picked at run time.
// Falls back to torch::conv2d on other devices and dtypes, under autocast, and when the input
// needs a gradient (only the weight gradient is written here: images need none).
#include <torch/torch.h>

#include "selfsup/nets/layout.h"

namespace selfsup::functional {

/// conv2d(x, weight, no bias, stride 1, padding 1) for x [N, 1, H, W] and weight [C, 1, 3, 3],
/// the output in `layout` (kBlocked16: [N, C / 16, H, W, 16], for C a multiple of 16).
torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Layout layout = Layout::kNCHW);

}  // namespace selfsup::functional
