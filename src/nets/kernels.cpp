#include "selfsup/nets/kernels.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>

#include "cpu/cpu_kernels.h"

namespace selfsup {

namespace {

/// Whether CPU autocast is on: the kernels then step aside for torch's ops, which autocast casts.
bool autocast_on() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

/// The type the batch-norm kernel computes and keeps its parameters in for input of type t.
torch::ScalarType acc_type(torch::ScalarType t) { return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }

}  // namespace

namespace functional {

namespace {

// Whether the batch-norm kernels take x, weight and bias as they are: they read the affine
// parameters in the accumulation type (float, or double).
bool batch_norm_kernel_takes(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto t = x.scalar_type();
  if (!(x.device().is_cpu() && x.dim() >= 3 && x.is_contiguous() &&
        (t == torch::kFloat32 || t == torch::kFloat64 || t == torch::kBFloat16))) {
    return false;
  }
  for (const auto& p : {weight, bias}) {
    if (p.defined() && (p.scalar_type() != acc_type(t) || !p.device().is_cpu() || !p.is_contiguous())) return false;
  }
  return true;
}

void check_train_input(const torch::Tensor& x, double eps, Layout layout, const char* who) {
  if (layout == Layout::kBlocked16) {
    TORCH_CHECK(x.defined() && x.dim() == 5 && x.size(4) == 16, who,
                ": expected a blocked input [N, C / 16, H, W, 16], got ", x.defined() ? x.sizes() : c10::IntArrayRef{});
  }
  TORCH_CHECK(x.defined() && x.dim() >= 2, who, ": expected input [N, C, ...], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(eps > 0, who, ": eps must be positive, got ", eps);
  TORCH_CHECK(x.size(1) > 0 && x.numel() / x.size(1) > (layout == Layout::kBlocked16 ? 16 : 1), who,
              ": training needs more than 1 value per channel, got input ", x.sizes());
}

// The kernels take defined affine parameters: ones and zeros stand for none.
torch::Tensor defined_or(const torch::Tensor& t, const torch::Tensor& x, int64_t channels, double value) {
  if (t.defined()) return t;
  return torch::full({channels}, value, x.options().dtype(acc_type(x.scalar_type())));
}

// torch::conv2d, converting a blocked input and output (a fallback, and the reference in tests).
torch::Tensor torch_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, const Conv3x3FuncOptions& o) {
  auto y = torch::conv2d(o.src_layout() == Layout::kBlocked16 ? from_blocked16(x) : x, weight, {}, 1, 1);
  return o.dst_layout() == Layout::kBlocked16 ? to_blocked16(y) : y;
}

}  // namespace

torch::Tensor to_blocked16(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) % 16 == 0, "to_blocked16: expected [N, C, H, W] with C a multiple of 16, got ",
              x.sizes());
  return x.view({x.size(0), x.size(1) / 16, 16, x.size(2), x.size(3)}).permute({0, 1, 3, 4, 2}).contiguous();
}

torch::Tensor from_blocked16(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 5 && x.size(4) == 16, "from_blocked16: expected [N, C / 16, H, W, 16], got ", x.sizes());
  return x.permute({0, 1, 4, 2, 3}).reshape({x.size(0), x.size(1) * 16, x.size(2), x.size(3)}).contiguous();
}

torch::Tensor max_pool2x2(const torch::Tensor& x) {
  TORCH_CHECK(x.defined() && x.dim() == 4, "max_pool2x2: expected input [N, C, H, W], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  const auto t = x.scalar_type();
  const bool kernel = x.device().is_cpu() && x.is_contiguous() && x.size(2) >= 2 && x.size(3) >= 2 &&
                      (t == torch::kFloat32 || t == torch::kFloat64 || t == torch::kBFloat16);
  if (!kernel) return torch::max_pool2d(x, 2, 2);
  return nets::cpu::max_pool2x2(x);
}

namespace {
void check_attention_input(const torch::Tensor& qkv, int64_t heads) {
  TORCH_CHECK(heads > 0, "self_attention: heads must be positive, got ", heads);
  TORCH_CHECK(qkv.defined() && qkv.dim() == 3 && qkv.size(2) % (3 * heads) == 0,
              "self_attention: expected qkv [B, N, 3 x heads x head_dim] for ", heads, " heads, got ",
              qkv.defined() ? qkv.sizes() : c10::IntArrayRef{});
}
}  // namespace

torch::Tensor self_attention_reference(const torch::Tensor& qkv, int64_t heads) {
  check_attention_input(qkv, heads);
  const int64_t b = qkv.size(0), n = qkv.size(1), d = qkv.size(2) / 3, hd = d / heads;
  const auto parts = qkv.reshape({b, n, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // [3, B, H, N, hd]
  // Scaling q (N x hd) is cheaper than scaling the N x N scores.
  const auto scores = torch::matmul(parts[0] * (1.0 / std::sqrt(static_cast<double>(hd))), parts[1].transpose(-2, -1));
  return torch::matmul(torch::softmax(scores, -1), parts[2]).transpose(1, 2).reshape({b, n, d});
}

torch::Tensor self_attention(const torch::Tensor& qkv, int64_t heads) {
  check_attention_input(qkv, heads);
  const auto t = qkv.scalar_type();
  const bool kernel = qkv.device().is_cpu() && qkv.is_contiguous() && qkv.numel() > 0 &&
                      (t == torch::kFloat32 || t == torch::kFloat64) && !autocast_on();
  if (!kernel) return self_attention_reference(qkv, heads);
  return nets::cpu::self_attention(qkv, heads);
}

torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu, Layout layout) {
  check_train_input(x, eps, layout, "batch_norm_train");
  const bool blocked = layout == Layout::kBlocked16;
  if (!batch_norm_kernel_takes(x, weight, bias)) {
    if (blocked) {
      return to_blocked16(batch_norm_train(from_blocked16(x), weight, bias, running_mean, running_var, momentum, eps, relu));
    }
    auto y = torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true, momentum, eps,
                               /*cudnn_enabled=*/true);
    return relu ? torch::relu(y) : y;
  }
  const int64_t c = blocked ? x.size(1) * 16 : x.size(1);
  return nets::cpu::batch_norm_train(x, defined_or(weight, x, c, 1), defined_or(bias, x, c, 0), running_mean,
                                     running_var, momentum, eps, relu, layout);
}

torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps, Layout layout) {
  check_train_input(x, eps, layout, "batch_norm_relu_max_pool2x2");
  const bool blocked = layout == Layout::kBlocked16;
  TORCH_CHECK(blocked || x.dim() == 4, "batch_norm_relu_max_pool2x2: expected input [N, C, H, W], got ", x.sizes());
  if (!batch_norm_kernel_takes(x, weight, bias) || x.size(2) < 2 || x.size(3) < 2) {
    if (blocked) {
      return to_blocked16(
          batch_norm_relu_max_pool2x2(from_blocked16(x), weight, bias, running_mean, running_var, momentum, eps));
    }
    return max_pool2x2(batch_norm_train(x, weight, bias, running_mean, running_var, momentum, eps, /*relu=*/true));
  }
  const int64_t c = blocked ? x.size(1) * 16 : x.size(1);
  return nets::cpu::batch_norm_relu_max_pool2x2(x, defined_or(weight, x, c, 1), defined_or(bias, x, c, 0),
                                                running_mean, running_var, momentum, eps, layout);
}

torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Layout layout) {
  TORCH_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 1, "stem_conv3x3: expected images [N, 1, H, W], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == 1 && weight.size(2) == 3 && weight.size(3) == 3,
              "stem_conv3x3: expected a weight [C, 1, 3, 3], got ", weight.sizes());
  const bool blocked = layout == Layout::kBlocked16;
  TORCH_CHECK(!blocked || weight.size(0) % 16 == 0,
              "stem_conv3x3: a blocked output needs a multiple of 16 channels, got ", weight.size(0));
  const auto t = x.scalar_type();
  const bool kernel = x.device().is_cpu() && weight.device().is_cpu() && x.is_contiguous() &&
                      (t == torch::kFloat32 || t == torch::kFloat64) && weight.scalar_type() == t &&
                      !x.requires_grad() && !autocast_on();
  if (!kernel) {
    auto y = torch::conv2d(x, weight, {}, 1, 1);
    return blocked ? to_blocked16(y) : y;
  }
  return nets::cpu::stem_conv3x3(x, weight, layout);
}

torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, const Conv3x3FuncOptions& options) {
  const bool blocked_in = options.src_layout() == Layout::kBlocked16;
  TORCH_CHECK(x.defined() && (blocked_in ? x.dim() == 5 && x.size(4) == 16 : x.dim() == 4), "conv3x3: expected images ",
              blocked_in ? "[N, C / 16, H, W, 16] (blocked)" : "[N, C, H, W]", ", got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  const int64_t channels = blocked_in ? x.size(1) * 16 : x.size(1);
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == channels && weight.size(2) == 3 && weight.size(3) == 3,
              "conv3x3: expected a weight [O, ", channels, ", 3, 3] for input ", x.sizes(), ", got ", weight.sizes());
  TORCH_CHECK(options.dst_layout() == Layout::kNCHW || weight.size(0) % 16 == 0,
              "conv3x3: a blocked output needs a multiple of 16 channels, got ", weight.size(0));
  const auto algorithm = options.algorithm();
  if (algorithm == Conv3x3Algorithm::kTorch) return torch_conv3x3(x, weight, options);
  const bool kernel = conv3x3_uses_onednn() && x.device().is_cpu() && weight.device().is_cpu() &&
                      x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
                      x.is_contiguous() && x.numel() > 0 && weight.numel() > 0 && !autocast_on();
  if (kernel) return nets::cpu::conv3x3(x, weight, algorithm, options.src_layout(), options.dst_layout());
  TORCH_CHECK(algorithm == Conv3x3Algorithm::kAuto, "conv3x3: a oneDNN algorithm was asked for, but ",
              conv3x3_uses_onednn() ? "this input takes torch::conv2d (needs a contiguous float32 CPU input, no autocast)"
                                    : "this build has no oneDNN headers");
  return torch_conv3x3(x, weight, options);
}

bool conv3x3_uses_onednn() { return nets::cpu::have_onednn(); }

}  // namespace functional

namespace nets::kernels {

Layout activation_layout(const torch::Tensor& images, bool training, c10::ArrayRef<int64_t> widths) {
  // Only training on a CPU in float32 runs oneDNN's convolutions with the fused BN kernels after
  // them; elsewhere a blocked activation would only be converted back and forth.
  const bool blocked = training && images.device().is_cpu() && images.scalar_type() == torch::kFloat32 &&
                       !autocast_on() && functional::conv3x3_uses_onednn() &&
                       std::all_of(widths.begin(), widths.end(), [](int64_t c) { return c % 16 == 0; });
  return blocked ? Layout::kBlocked16 : Layout::kNCHW;
}

torch::Tensor to_nchw(const Activation& x) {
  return x.layout == Layout::kBlocked16 ? functional::from_blocked16(x.tensor) : x.tensor;
}

Activation in_layout(const torch::Tensor& nchw, Layout layout) {
  return {layout == Layout::kBlocked16 ? functional::to_blocked16(nchw) : nchw, layout};
}

Activation conv3x3(const Activation& x, const torch::Tensor& weight, Layout out) {
  if (weight.size(1) == 1) return {functional::stem_conv3x3(x.tensor, weight, out), out};
  return {functional::conv3x3(x.tensor, weight, functional::Conv3x3FuncOptions().src_layout(x.layout).dst_layout(out)),
          out};
}

Activation batch_norm(const Activation& x, const BatchNormArgs& bn, bool training, bool pool) {
  if (x.layout == Layout::kBlocked16) {
    if (!(training && bn.relu)) return in_layout(batch_norm({to_nchw(x)}, bn, training, pool).tensor, x.layout);
    if (pool) {
      return {functional::batch_norm_relu_max_pool2x2(x.tensor, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                                      bn.momentum, bn.eps, x.layout),
              x.layout};
    }
    return {functional::batch_norm_train(x.tensor, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.momentum,
                                         bn.eps, /*relu=*/true, x.layout),
            x.layout};
  }
  if (pool) {
    if (training && bn.relu && x.tensor.dim() == 4) {
      return {functional::batch_norm_relu_max_pool2x2(x.tensor, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                                      bn.momentum, bn.eps)};
    }
    return {functional::max_pool2x2(batch_norm(x, bn, training, /*pool=*/false).tensor)};
  }
  if (training) {
    return {functional::batch_norm_train(x.tensor, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.momentum,
                                         bn.eps, bn.relu)};
  }
  auto y = torch::batch_norm(x.tensor, bn.weight, bn.bias, bn.running_mean, bn.running_var, /*training=*/false,
                             bn.momentum, bn.eps, /*cudnn_enabled=*/true);
  return {bn.relu ? torch::relu(y) : y};
}

Activation max_pool2x2(const Activation& x) { return {functional::max_pool2x2(to_nchw(x))}; }

torch::Tensor global_mean(const Activation& x) {
  if (x.layout == Layout::kBlocked16) {
    return x.tensor.mean({2, 3}).reshape({x.tensor.size(0), -1});  // [N, C / 16, 16] to [N, C]
  }
  return x.tensor.mean({2, 3});
}

}  // namespace nets::kernels

}  // namespace selfsup
