#pragma once
// Batch normalisation for any input of shape [N, C, ...] (BatchNorm1d and BatchNorm2d in one),
// with the same parameters, buffers and arithmetic as torch::nn's, plus an optional sync mode:
// in training, with several processes, the batch statistics are those of the global batch
// (SyncBatchNorm), so a data-parallel run normalises exactly as one process holding the whole
// batch would. Its state-dict names match torch::nn::BatchNorm*d, so checkpoints do not change.
#include <torch/torch.h>

namespace selfsup::nets {

struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  /// Global-batch statistics across ranks in training (a no-op in one process).
  TORCH_ARG(bool, sync) = false;
};

class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(BatchNormOptions options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm);

/// Turns sync mode on or off in every BatchNorm inside `module` (the SyncBatchNorm option);
/// returns how many layers it changed.
int64_t set_sync_batchnorm(torch::nn::Module& module, bool sync);

}  // namespace selfsup::nets
