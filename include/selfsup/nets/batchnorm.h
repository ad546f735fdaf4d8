#pragma once
// Batch normalisation for any input of shape [N, C, ...] (BatchNorm1d and BatchNorm2d in one),
// with the same parameters, buffers and arithmetic as torch::nn's, plus an optional sync mode:
// in training, with several processes, the batch statistics are those of the global batch
// (SyncBatchNorm), so a data-parallel run normalises exactly as one process holding the whole
// batch would. Its state-dict names match torch::nn::BatchNorm*d, so checkpoints do not change.
//
// Which kernel runs it is nets/kernels.h's choice: in training on a CPU, fused batch norm (+ ReLU)
// (+ the ConvNet's max-pool) kernels where they apply; torch::batch_norm elsewhere.
#include <torch/torch.h>

#include "selfsup/nets/kernels.h"

namespace selfsup {
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
  /// forward(x), then the 2x2 max-pool of images when `pool`, for x and the output in x's layout
  /// (a ConvNet layer): in training with the ReLU on, the fused kernels take either layout and
  /// run BN - ReLU - pool as one op, unless sync mode gathers statistics across processes.
  kernels::Activation forward_activation(const kernels::Activation& x, bool pool);
  void pretty_print(std::ostream& stream) const override;

  BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  /// Training with the statistics of the global batch across processes, for NCHW x.
  torch::Tensor forward_global(const torch::Tensor& x);
};
TORCH_MODULE(BatchNorm);

/// Turns sync mode on or off in every BatchNorm inside `module` (the SyncBatchNorm option);
/// returns how many layers it changed.
int64_t set_sync_batchnorm(torch::nn::Module& module, bool sync);

}  // namespace nets
}  // namespace selfsup
