#pragma once
// Batch normalisation for any input of shape [N, C, ...] (BatchNorm1d and BatchNorm2d in one),
// with the same parameters, buffers and arithmetic as torch::nn's, plus an optional sync mode:
// in training, with several processes, the batch statistics are those of the global batch
// (SyncBatchNorm), so a data-parallel run normalises exactly as one process holding the whole
// batch would. Its state-dict names match torch::nn::BatchNorm*d, so checkpoints do not change.
//
// Training on a CPU with an [N, C, H, W...] input runs our own kernel, with an optional fused
// ReLU (functional::batch_norm_train). Why: LibTorch 1.13's CPU batch norm and the ReLU after it
// took 27% of a SimCLR step on the ConvNet, ~3x more than their memory traffic needs; the fused
// kernel reads x twice for the statistics, writes relu(scale * x + shift) once, and its backward
// recomputes the ReLU mask from x instead of keeping the output.
#include <torch/torch.h>

#include "selfsup/nets/layout.h"

namespace selfsup {
namespace functional {

/// Training-mode batch norm over dims {0, 2, 3, ...} of x [N, C, ...], then ReLU when `relu`.
/// Updates running_mean / running_var (unbiased variance) with `momentum`, as torch::batch_norm
/// does; either may be undefined. weight and bias may be undefined (no affine transform). Any
/// device and dtype; the fused CPU kernel runs for contiguous float32 / float64 / bfloat16
/// input of 3 or more dims. With layout kBlocked16, x is [N, C / 16, H, W, 16] and so is the
/// output (layout.h).
torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu, Layout layout = Layout::kNCHW);

/// max_pool2x2(batch_norm_train(x, ..., relu = true)) for x [N, C, H, W], in one pass on a CPU:
/// the full-size activation is neither written nor kept for the backward (the ConvNet's
/// BN - ReLU - pool between stages; it halves that layer's memory traffic). Input and output in
/// `layout`.
torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps,
                                          Layout layout = Layout::kNCHW);

}  // namespace functional

namespace nets {

struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  /// Global-batch statistics across ranks in training (a no-op in one process).
  TORCH_ARG(bool, sync) = false;
  /// A ReLU on the output (fused with the normalisation where the CPU kernel runs).
  TORCH_ARG(bool, relu) = false;
};

class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(BatchNormOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  /// max_pool2x2(forward(x)) for images, fused into one op where the CPU kernel runs (training,
  /// with the ReLU on, and not in sync mode across processes).
  torch::Tensor forward_pooled(const torch::Tensor& x);
  /// forward(x), or forward_pooled(x) when `pool`, for x and output in the blocked layout
  /// [N, C / 16, H, W, 16] (layout.h); the fused kernels take it directly in training.
  torch::Tensor forward_blocked16(const torch::Tensor& x, bool pool);
  void pretty_print(std::ostream& stream) const override;

  BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm);

/// Turns sync mode on or off in every BatchNorm inside `module` (the SyncBatchNorm option);
/// returns how many layers it changed.
int64_t set_sync_batchnorm(torch::nn::Module& module, bool sync);

}  // namespace nets
}  // namespace selfsup
