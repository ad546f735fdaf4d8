#pragma once
// Which kernel runs each of the networks' operations, decided here and nowhere else: the CPU
// kernels of src/nets/cpu/ where their preconditions hold, torch's own ops everywhere else (other
// devices, dtypes and memory formats, autocast, an input that needs a gradient a kernel does not
// write), with the same values, gradients and running statistics either way. So the layers
// (convnet.cpp, batchnorm.cpp, vit.cpp) describe the network, and a CUDA build runs the stock ops.
//
// Two levels:
//  - selfsup::functional: one op each, for a tensor in the layout the caller names (what the
//    tests check against torch's ops).
//  - selfsup::nets::kernels: the ConvNet's layers on an Activation (a tensor and its layout), and
//    the layout a forward pass keeps between its layers.
#include <torch/torch.h>

#include <c10/util/ArrayRef.h>

namespace selfsup::functional {

// ---- the layout of activations -----------------------------------------------------------------

/// How an activation [N, C, H, W] is stored between the ConvNet's layers.
///
/// oneDNN's Winograd convolutions read and write nChw16c: channels in blocks of 16, the 16 of a
/// block interleaved at each pixel. Converting to and from NCHW around every convolution moved
/// ~115 MB per SimCLR step on Fashion-MNIST (9% of the fp32 step on a 2-core CPU), so in training
/// the ConvNet keeps its activations blocked from the first convolution to the last batch norm,
/// whose kernels read and write either layout.
enum class Layout {
  kNCHW,       ///< a contiguous [N, C, H, W] tensor
  kBlocked16,  ///< nChw16c: a contiguous [N, C / 16, H, W, 16] tensor
};

/// x [N, C, H, W], C a multiple of 16, as a contiguous nChw16c tensor [N, C / 16, H, W, 16].
/// Differentiable (torch's own view ops), on any device.
torch::Tensor to_blocked16(const torch::Tensor& x);

/// The inverse of to_blocked16: [N, C / 16, H, W, 16] to a contiguous [N, C, H, W].
torch::Tensor from_blocked16(const torch::Tensor& x);

// ---- ops ---------------------------------------------------------------------------------------

/// max_pool2d(x, kernel 2, stride 2) for x of shape [N, C, H, W]; output [N, C, H/2, W/2].
/// The CPU kernel runs for contiguous float32 / float64 / bfloat16 input at least 2x2; anything
/// else takes torch::max_pool2d, with the same values, NaN propagation and tie rule (the first
/// maximum in row-major order wins; with NaNs, the last NaN).
torch::Tensor max_pool2x2(const torch::Tensor& x);

/// Training-mode batch norm over dims {0, 2, 3, ...} of x [N, C, ...], then ReLU when `relu`.
/// Updates running_mean / running_var (unbiased variance) with `momentum`, as torch::batch_norm
/// does; either may be undefined. weight and bias may be undefined (no affine transform). Any
/// device and dtype; the fused CPU kernel runs for contiguous float32 / float64 / bfloat16 input
/// of 3 or more dims whose weight and bias (if defined) are contiguous CPU tensors of float32
/// (float64 for float64 input); else torch::batch_norm and torch::relu. With layout kBlocked16,
/// x is [N, C / 16, H, W, 16] and so is the output.
torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu, Layout layout = Layout::kNCHW);

/// max_pool2x2(batch_norm_train(x, ..., relu = true)) for x [N, C, H, W], in one pass where the
/// CPU kernel runs (batch_norm_train's conditions, and H, W >= 2): the full-size activation is
/// neither written nor kept for the backward. Input and output in `layout`.
torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps,
                                          Layout layout = Layout::kNCHW);

/// conv2d(x, weight, no bias, stride 1, padding 1) for grayscale x [N, 1, H, W] and weight
/// [C, 1, 3, 3], the output in `layout` (kBlocked16: [N, C / 16, H, W, 16], for C a multiple of
/// 16): the ConvNet's first layer on grayscale images. The CPU kernel runs for contiguous float32 /
/// float64 input without autocast that needs no gradient (it writes only the weight's: images
/// need none), the weight of the same dtype on the CPU; else torch::conv2d.
torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Layout layout = Layout::kNCHW);

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

/// conv2d(x, weight, no bias, stride 1, padding 1) for x [N, C, H, W] and weight [O, C, 3, 3],
/// x and the output in the layouts the options name: the ConvNet's layers after the first.
/// oneDNN's kernels run (Winograd where it has them) for contiguous, non-empty float32 CPU input
/// and weight without autocast, in a build with oneDNN's headers; else torch::conv2d, and asking
/// for a oneDNN algorithm then is an error. Winograd changes the rounding, not the result: fp32
/// outputs differ from the direct algorithm's by ~1e-6 relative.
torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, const Conv3x3FuncOptions& options = {});

/// Whether this build calls oneDNN itself (its headers were found at build time).
bool conv3x3_uses_onednn();

/// Multi-head self-attention from a fused projection qkv [B, N, 3D] (per token q, k and v of D =
/// heads x hd values, each head's hd contiguous, as a ViT's qkv Linear writes them): per head
/// softmax(q k^T / sqrt(hd)) v, the heads side by side in the output [B, N, D]. The CPU kernel
/// runs for contiguous float32 / float64 input without autocast; else torch's matmul and softmax
/// (self_attention_reference), with the same values to rounding, and the same gradients.
torch::Tensor self_attention(const torch::Tensor& qkv, int64_t heads);

/// self_attention by torch's ops, on any device and dtype.
torch::Tensor self_attention_reference(const torch::Tensor& qkv, int64_t heads);

}  // namespace selfsup::functional

namespace selfsup::nets::kernels {

using functional::Layout;

/// An activation between the ConvNet's layers and the layout its tensor is stored in.
struct Activation {
  torch::Tensor tensor;
  Layout layout = Layout::kNCHW;
};

/// The layout a ConvNet forward pass on `images` keeps its activations in, from its first
/// convolution's output on: kBlocked16 where every layer has a kernel that reads and writes it
/// (training, float32 CPU images, no autocast, a build with oneDNN, every stage width a multiple
/// of 16), else kNCHW.
Layout activation_layout(const torch::Tensor& images, bool training, c10::ArrayRef<int64_t> widths);

/// x's tensor as NCHW (converted when blocked).
torch::Tensor to_nchw(const Activation& x);

/// An NCHW tensor stored in `layout`.
Activation in_layout(const torch::Tensor& nchw, Layout layout);

/// A 3x3 convolution, stride 1, padding 1, no bias, its output in `out`: stem_conv3x3 for one
/// input channel (oneDNN is slow there), conv3x3 otherwise.
Activation conv3x3(const Activation& x, const torch::Tensor& weight, Layout out);

/// A batch norm layer's parameters, buffers and settings.
struct BatchNormArgs {
  torch::Tensor weight, bias, running_mean, running_var;
  double momentum;
  double eps;
  bool relu;
};

/// Batch norm (then ReLU when bn.relu), then the 2x2 max-pool when `pool`, of x in its layout;
/// in training with the batch's statistics (updating the running ones), else with the running
/// ones. In training with the ReLU the fused kernels take either layout (batch_norm_train,
/// batch_norm_relu_max_pool2x2); anything else runs in NCHW (torch::batch_norm in evaluation),
/// converting a blocked x and back.
Activation batch_norm(const Activation& x, const BatchNormArgs& bn, bool training, bool pool);

/// max_pool2x2 of x; the output is NCHW.
Activation max_pool2x2(const Activation& x);

/// The mean over the pixels: [N, C].
torch::Tensor global_mean(const Activation& x);

}  // namespace selfsup::nets::kernels
