// functional::batch_norm_train: training-mode batch norm (+ ReLU) with a fused CPU kernel.
//
// With M = N * H * W values per channel, mean mu and biased variance var, xhat = (x - mu) * r,
// r = 1 / sqrt(var + eps), the layer computes y = relu(w * xhat + b) = relu(scale * x + shift)
// with scale = w * r, shift = b - mu * scale. Writing g = dL/dy masked by the ReLU (y > 0),
//   dL/db = sum(g),   dL/dw = sum(g * xhat),
//   dL/dx = w * r * (g - sum(g) / M - xhat * sum(g * xhat) / M),
// since d xhat_j / d x_i = r * (delta_ij - 1/M - xhat_i xhat_j / M). The backward needs x and
// the per-channel statistics only: the mask is recomputed from x with the forward's own
// expression, so it matches the forward bit for bit.
#include "selfsup/nets/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

namespace selfsup::functional {

namespace {

template <typename T>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};

torch::ScalarType acc_type(torch::ScalarType t) { return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }

// Per-channel scale and shift of the affine map y = scale * x + shift, from the statistics.
template <typename A>
void affine_coefficients(const torch::Tensor& weight, const torch::Tensor& bias, const A* mean, const A* invstd,
                         int64_t c, std::vector<A>& scale, std::vector<A>& shift) {
  scale.resize(static_cast<size_t>(c));
  shift.resize(static_cast<size_t>(c));
  const A* w = weight.data_ptr<A>();
  const A* b = bias.data_ptr<A>();
  for (int64_t ch = 0; ch < c; ++ch) {
    scale[ch] = w[ch] * invstd[ch];
    shift[ch] = b[ch] - mean[ch] * scale[ch];
  }
}

// The running statistics: updated in place, never differentiated. A struct, so that the
// autograd Function does not count them as inputs (LibTorch 1.13's Function also refuses an
// undefined tensor input, and either may be undefined).
struct RunningStats {
  torch::Tensor mean, var;
};

struct BatchNormTrainFn : torch::autograd::Function<BatchNormTrainFn> {
  // weight and bias are always defined here (ones and zeros stand in for no affine transform).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double momentum, double eps, bool relu) {
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c), m = n * s;
    auto mean = torch::empty({c}, x.options().dtype(acc_type(x.scalar_type())));
    auto invstd = torch::empty_like(mean), var = torch::empty_like(mean);
    auto y = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train", [&] {
      using A = typename Acc<scalar_t>::type;
      const scalar_t* px = x.data_ptr<scalar_t>();
      A* pm = mean.data_ptr<A>();
      A* pr = invstd.data_ptr<A>();
      A* pv = var.data_ptr<A>();
      // Two passes (mean, then squared deviations): E[x^2] - E[x]^2 cancels when |mu| >> std.
      // Each pass sums the N planes of a channel element-wise into one row of S partial sums (a
      // loop the compiler vectorises, unlike a running scalar sum), then adds the row in double.
      at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
        std::vector<A> row(static_cast<size_t>(s));
        for (int64_t ch = begin; ch < end; ++ch) {
          std::fill(row.begin(), row.end(), A(0));
          for (int64_t i = 0; i < n; ++i) {
            const scalar_t* p = px + (i * c + ch) * s;
            for (int64_t k = 0; k < s; ++k) row[k] += static_cast<A>(p[k]);
          }
          const A mu = static_cast<A>(std::accumulate(row.begin(), row.end(), 0.0) / static_cast<double>(m));
          std::fill(row.begin(), row.end(), A(0));
          for (int64_t i = 0; i < n; ++i) {
            const scalar_t* p = px + (i * c + ch) * s;
            for (int64_t k = 0; k < s; ++k) {
              const A d = static_cast<A>(p[k]) - mu;
              row[k] += d * d;
            }
          }
          const double var = std::accumulate(row.begin(), row.end(), 0.0) / static_cast<double>(m);
          pm[ch] = mu;
          pv[ch] = static_cast<A>(var);
          pr[ch] = static_cast<A>(1.0 / std::sqrt(var + eps));
        }
      });
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, pm, pr, c, scale, shift);
      scalar_t* py = y.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          const A a = scale[p % c], b = shift[p % c];
          const scalar_t* in = px + p * s;
          scalar_t* out = py + p * s;
          if (relu) {
            // v < 0 ? 0 : v lets NaN through, as torch::relu does.
            for (int64_t k = 0; k < s; ++k) {
              const A v = static_cast<A>(in[k]) * a + b;
              out[k] = static_cast<scalar_t>(v < A(0) ? A(0) : v);
            }
          } else {
            for (int64_t k = 0; k < s; ++k) out[k] = static_cast<scalar_t>(static_cast<A>(in[k]) * a + b);
          }
        }
      });
    });
    if (running.mean.defined()) {
      running.mean.mul_(1 - momentum).add_(mean.to(running.mean.scalar_type()), momentum);
    }
    if (running.var.defined()) {
      const double unbiased = static_cast<double>(m) / static_cast<double>(m - 1);
      running.var.mul_(1 - momentum).add_(var.to(running.var.scalar_type()), momentum * unbiased);
    }
    ctx->save_for_backward({x, weight, bias, mean, invstd});
    ctx->saved_data["relu"] = relu;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2], &mean = saved[3], &invstd = saved[4];
    const bool relu = ctx->saved_data["relu"].toBool();
    auto dy = grads[0].contiguous();
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c), m = n * s;
    auto sum_g = torch::empty_like(mean), sum_gx = torch::empty_like(mean);
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train_backward", [&] {
      using A = typename Acc<scalar_t>::type;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      const A* pm = mean.data_ptr<A>();
      const A* pr = invstd.data_ptr<A>();
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, pm, pr, c, scale, shift);
      // The ReLU's gradient mask, from the forward's expression for y.
      auto masked = [relu](A g, A v) { return relu && !(v > A(0)) ? A(0) : g; };
      A* pg = sum_g.data_ptr<A>();
      A* pgx = sum_gx.data_ptr<A>();
      at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
        std::vector<A> row_g(static_cast<size_t>(s)), row_gx(static_cast<size_t>(s));
        for (int64_t ch = begin; ch < end; ++ch) {
          const A a = scale[ch], b = shift[ch], mu = pm[ch];
          std::fill(row_g.begin(), row_g.end(), A(0));
          std::fill(row_gx.begin(), row_gx.end(), A(0));
          for (int64_t i = 0; i < n; ++i) {
            const scalar_t* xi = px + (i * c + ch) * s;
            const scalar_t* gi = pdy + (i * c + ch) * s;
            for (int64_t k = 0; k < s; ++k) {
              const A xv = static_cast<A>(xi[k]);
              const A g = masked(static_cast<A>(gi[k]), xv * a + b);
              row_g[k] += g;
              row_gx[k] += g * (xv - mu);
            }
          }
          pg[ch] = static_cast<A>(std::accumulate(row_g.begin(), row_g.end(), 0.0));
          pgx[ch] = static_cast<A>(std::accumulate(row_gx.begin(), row_gx.end(), 0.0) * pr[ch]);  // sum(g * xhat)
        }
      });
      const A* w = weight.data_ptr<A>();
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      const A inv_m = A(1) / static_cast<A>(m);
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          const int64_t ch = p % c;
          const A a = scale[ch], b = shift[ch], mu = pm[ch], r = pr[ch];
          const A k = w[ch] * r, mean_g = pg[ch] * inv_m, mean_gx = pgx[ch] * inv_m;
          const scalar_t* xi = px + p * s;
          const scalar_t* gi = pdy + p * s;
          scalar_t* out = pdx + p * s;
          for (int64_t j = 0; j < s; ++j) {
            const A xv = static_cast<A>(xi[j]);
            const A g = masked(static_cast<A>(gi[j]), xv * a + b);
            out[j] = static_cast<scalar_t>(k * (g - mean_g - (xv - mu) * r * mean_gx));
          }
        }
      });
    });
    return {dx, ctx->needs_input_grad(1) ? sum_gx : torch::Tensor(), ctx->needs_input_grad(2) ? sum_g : torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool fast_path(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto t = x.scalar_type();
  if (!(x.device().is_cpu() && x.dim() >= 3 && x.is_contiguous() &&
        (t == torch::kFloat32 || t == torch::kFloat64 || t == torch::kBFloat16))) {
    return false;
  }
  // The kernel reads the affine parameters in the accumulation type (float, or double).
  for (const auto& p : {weight, bias}) {
    if (p.defined() && (p.scalar_type() != acc_type(t) || !p.device().is_cpu() || !p.is_contiguous())) return false;
  }
  return true;
}

}  // namespace

torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu) {
  TORCH_CHECK(x.defined() && x.dim() >= 2, "batch_norm_train: expected input [N, C, ...], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(eps > 0, "batch_norm_train: eps must be positive, got ", eps);
  TORCH_CHECK(x.size(1) > 0 && x.numel() / x.size(1) > 1, "batch_norm_train: training needs more than 1 value per channel, got input ",
              x.sizes());
  if (!fast_path(x, weight, bias)) {
    auto y = torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true, momentum, eps,
                               /*cudnn_enabled=*/true);
    return relu ? torch::relu(y) : y;
  }
  const int64_t c = x.size(1);
  const auto acc = x.options().dtype(acc_type(x.scalar_type()));
  return BatchNormTrainFn::apply(x, weight.defined() ? weight : torch::ones({c}, acc),
                                 bias.defined() ? bias : torch::zeros({c}, acc),
                                 RunningStats{running_mean, running_var}, momentum, eps, relu);
}

}  // namespace selfsup::functional
