#include "selfsup/nets/batchnorm.h"

#include "selfsup/dist/dist.h"

namespace selfsup::nets {

BatchNormImpl::BatchNormImpl(BatchNormOptions options_) : options(std::move(options_)) { reset(); }

void BatchNormImpl::reset() {
  TORCH_CHECK(options.num_features() > 0, "BatchNorm: num_features must be positive, got ", options.num_features());
  TORCH_CHECK(options.eps() > 0, "BatchNorm: eps must be positive, got ", options.eps());
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::BatchNorm(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum() << ", affine=" << options.affine() << ", sync=" << options.sync()
         << (options.relu() ? ", relu=1" : "") << ")";
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) { return forward_activation({x}, /*pool=*/false).tensor; }

kernels::Activation BatchNormImpl::forward_activation(const kernels::Activation& x, bool pool) {
  const int64_t c = options.num_features();
  if (x.layout == kernels::Layout::kBlocked16) {
    TORCH_CHECK(x.tensor.dim() == 5 && x.tensor.size(4) == 16 && x.tensor.size(1) * 16 == c, "BatchNorm(", c,
                "): expected a blocked input [N, ", c / 16, ", H, W, 16], got ", x.tensor.sizes());
  } else {
    TORCH_CHECK(x.tensor.dim() >= 2 && x.tensor.size(1) == c, "BatchNorm(", c, "): expected input [N, ", c,
                ", ...], got ", x.tensor.sizes());
  }
  if (is_training()) num_batches_tracked.add_(1);
  if (options.sync() && is_training() && dist::is_distributed()) {
    auto y = forward_global(kernels::to_nchw(x));
    return kernels::in_layout(pool ? functional::max_pool2x2(y) : y, x.layout);
  }
  return kernels::batch_norm(
      x, {weight, bias, running_mean, running_var, options.momentum(), options.eps(), options.relu()}, is_training(),
      pool);
}

torch::Tensor BatchNormImpl::forward_global(const torch::Tensor& x) {
  // Global statistics from the ranks' local count, mean and sum of squared deviations, gathered
  // and merged as in Chan et al.'s parallel variance: E[x^2] - E[x]^2 from all-reduced sums
  // would cancel catastrophically when |mean| >> std (a linear layer's outputs) and make two
  // ranks drift from one process within a few steps. The gather is differentiable, so every
  // rank's gradient accounts for its samples' share in the others' mean and variance.
  const int64_t c = options.num_features();
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  auto xf = x.to(torch::kFloat32);
  const double n_local = static_cast<double>(x.numel() / c);
  auto m_local = xf.mean(dims);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = c;
  auto m2_local = (xf - m_local.view(shape)).pow(2).sum(dims);
  auto stats = dist::all_gather(
      torch::cat({torch::full({1}, n_local, xf.options()), m_local, m2_local}).unsqueeze(0));  // [W, 1 + 2C]
  auto counts = stats.select(1, 0).unsqueeze(1);                                                // [W, 1]
  auto means = stats.slice(1, 1, 1 + c), m2s = stats.slice(1, 1 + c, 1 + 2 * c);
  const double n = counts.sum().item<double>();
  TORCH_CHECK(n > 1, "BatchNorm: the global batch has ", n, " values per channel; training needs more than 1");
  auto mean = (counts * means).sum(0) / n;
  auto var = (m2s + counts * (means - mean).pow(2)).sum(0) / n;
  {
    torch::NoGradGuard no_grad;
    running_mean.mul_(1 - options.momentum()).add_(mean.detach() * options.momentum());
    running_var.mul_(1 - options.momentum()).add_(var.detach() * (n / (n - 1)) * options.momentum());
  }
  auto y = (xf - mean.view(shape)) * torch::rsqrt(var.view(shape) + options.eps());
  if (options.affine()) y = y * weight.view(shape) + bias.view(shape);
  if (options.relu()) y = torch::relu(y);
  return y.to(x.scalar_type());
}

int64_t set_sync_batchnorm(torch::nn::Module& module, bool sync) {
  int64_t n = 0;
  module.apply([&](torch::nn::Module& m) {
    if (auto* bn = m.as<BatchNormImpl>()) {
      bn->options.sync(sync);
      ++n;
    }
  });
  return n;
}

}  // namespace selfsup::nets
