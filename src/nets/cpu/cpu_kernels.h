#pragma once
// The networks' CPU kernels, for what LibTorch 1.13 does slowly on a CPU (profiled with
// bench/speed_bench --profile and bench/profile_summary.py). Each is an autograd op that matches
// torch's own (values, gradients, running statistics, NaN and tie rules). src/nets/kernels.cpp
// alone calls them, where their preconditions (stated below) hold, and torch's ops elsewhere.
// Private to src/nets.
//
// max_pool.cpp, batchnorm_train.cpp, stem_conv.cpp and attention.cpp are compiled with -fopenmp and without the
// precompiled header: at::parallel_for's OpenMP body is inline in ATen's headers and runs on one
// thread otherwise. conv3x3.cpp is compiled with oneDNN's headers where they were found.
#include <torch/torch.h>

#include "selfsup/nets/kernels.h"

namespace selfsup::nets::cpu {

using functional::Conv3x3Algorithm;
using functional::Layout;

/// 2x2 max-pooling with stride 2 (floor mode), the ConvNet's pool between stages.
///
/// Why not torch::max_pool2d: LibTorch 1.13's NCHW max-pool is a generic any-kernel loop that
/// runs at ~2 GB/s; it took 17% of a SimCLR step on the ConvNet, more than the forward
/// convolutions. The fixed 2x2 case here is a loop the compiler vectorises; it keeps no index
/// (the backward finds each window's winner again from the input and the output), and its
/// backward writes every input element once instead of zero-filling and scattering.
///
/// x: a contiguous float32 / float64 / bfloat16 CPU tensor [N, C, H, W], H and W >= 2.
torch::Tensor max_pool2x2(const torch::Tensor& x);

/// Training-mode batch norm, then ReLU when `relu`, updating the running statistics (either may
/// be undefined) as torch::batch_norm does.
///
/// Why: LibTorch 1.13's CPU batch norm and the ReLU after it took 27% of a SimCLR step on the
/// ConvNet, ~3x more than their memory traffic needs; this kernel reads x twice for the
/// statistics, writes relu(scale * x + shift) once, and its backward recomputes the ReLU mask
/// from x instead of keeping the output.
///
/// x: a contiguous float32 / float64 / bfloat16 CPU tensor [N, C, ...] of 3 or more dims (with
/// layout kBlocked16, [N, C / 16, H, W, 16]) with more than one value per channel; weight and
/// bias defined, contiguous, on the CPU, in float32 (float64 for float64 x); eps > 0.
torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu, Layout layout);

/// max_pool2x2(batch_norm_train(x, ..., relu = true)) in one pass: the full-size activation is
/// neither written nor kept for the backward (the ConvNet's BN - ReLU - pool between stages; it
/// halves that layer's memory traffic).
///
/// x: as for batch_norm_train, with 4 dims in NCHW and H, W >= 2.
torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps,
                                          Layout layout);

/// The ConvNet's first layer on grayscale images: a 3x3 convolution, stride 1, padding 1, no
/// bias, from one input channel, the output in `layout`.
///
/// Why our own: oneDNN runs this layer at ~30 GFLOP/s on a CPU that does ~300 in the next ones
/// (one input channel leaves its GEMM-shaped kernels nothing to block on): 8% of a SimCLR step on
/// Fashion-MNIST for 1% of its FLOPs. Here each output row is 9 shifted multiply-adds of padded
/// input rows, compiled for AVX-512, AVX2 and plain x86-64 and picked at run time.
///
/// x: a contiguous float32 / float64 CPU tensor [N, 1, H, W] that needs no gradient (only the
/// weight's is written); weight [C, 1, 3, 3] of the same dtype on the CPU, C a multiple of 16 for
/// kBlocked16.
torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Layout layout);

/// A 3x3 convolution, stride 1, padding 1, no bias, on oneDNN's kernels: the ConvNet's layers
/// after the first.
///
/// Why our own: LibTorch 1.13 runs fp32 convolutions through oneDNN's direct algorithm and
/// reorders every operand between NCHW and oneDNN's blocked layout on each call, the weights and
/// the saved input again in the backward pass. Measured on this project's 2-core AVX-512 machine
/// (batch 512, 32->64 channels at 14x14 and 64->128 at 7x7), forward + both backward passes took
/// 75 ms through torch::conv2d against 38 ms through oneDNN's Winograd F(4x4, 3x3) kernels, which
/// do 2.25-4x fewer multiplications per output. Here the input is reordered once and kept in the
/// blocked layout for the weight gradient, and the output gradient is reordered once for both
/// backward passes. Shapes the Winograd kernels do not take (channels not a multiple of 16, an
/// ISA without AVX-512) use oneDNN's direct algorithm under kAuto.
///
/// x: a contiguous, non-empty float32 CPU tensor in `src_layout`; weight [O, C, 3, 3], float32,
/// on the CPU; O a multiple of 16 for a kBlocked16 output; algorithm not kTorch. Only in a build
/// with oneDNN's headers (have_onednn()); elsewhere it throws.
torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Conv3x3Algorithm algorithm,
                      Layout src_layout, Layout dst_layout);

/// Whether this build has oneDNN's headers, and so conv3x3.
bool have_onednn();

/// Multi-head self-attention from the fused projection: softmax(q k^T / sqrt(hd)) v per head.
///
/// Why our own: a ViT's sequences are short (13 tokens in an MAE encoder on Fashion-MNIST, 50 in
/// its decoder), and LibTorch 1.13's float32 CPU bmm runs such a batch as one GEMM call per matrix,
/// each with its own select and dispatch: in an MAE step its two attention products and their
/// gradients took half the time for about 4% of the FLOPs. Here each (image, head) pair is one
/// loop over rows already in cache, reading q, k and v in place from the projection (no permute
/// copies) and writing the heads side by side; the backward keeps the probabilities, as torch's
/// softmax does.
///
/// qkv: a contiguous float32 / float64 CPU tensor [B, N, 3D], per token q, k, v of D = heads x hd
/// values, each head's hd contiguous; output [B, N, D].
torch::Tensor self_attention(const torch::Tensor& qkv, int64_t heads);

}  // namespace selfsup::nets::cpu
