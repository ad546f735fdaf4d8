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
#include "selfsup/nets/max_pool.h"

#include "kernel_util.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

namespace selfsup::functional {

namespace {

using nets::detail::window_max;
template <typename S>
using Acc = nets::detail::Acc<S>;

torch::ScalarType acc_type(torch::ScalarType t) { return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }

// The inner loops are functions of their own with restrict pointers: inlined into the dispatch
// and parallel_for lambdas, the compiler could not rule out aliasing between the rows it reads
// and the row it writes, and ran them up to 3x slower.

// row[k] += x[k] (and for the second pass += (x[k] - mu)^2): each channel's N planes are summed
// element-wise into one row of partial sums, a loop that vectorises (a running scalar sum would
// not), and the row is then added in double.
template <typename S, typename A>
void add_row(const S* __restrict__ x, A* __restrict__ row, int64_t len) {
  for (int64_t k = 0; k < len; ++k) row[k] += static_cast<A>(x[k]);
}
template <typename S, typename A>
void add_squared_row(const S* __restrict__ x, A mu, A* __restrict__ row, int64_t len) {
  for (int64_t k = 0; k < len; ++k) {
    const A d = static_cast<A>(x[k]) - mu;
    row[k] += d * d;
  }
}

// v < 0 ? 0 : v lets NaN through, as torch::relu does.
template <typename A>
inline A relu_of(A v) {
  return v < A(0) ? A(0) : v;
}

template <typename S, typename A>
void affine_row(const S* __restrict__ x, S* __restrict__ y, int64_t len, A a, A b, bool relu) {
  if (relu) {
    for (int64_t k = 0; k < len; ++k) y[k] = static_cast<S>(relu_of(static_cast<A>(x[k]) * a + b));
  } else {
    for (int64_t k = 0; k < len; ++k) y[k] = static_cast<S>(static_cast<A>(x[k]) * a + b);
  }
}

// Backward, first pass of the unpooled layer: g = dy masked by the ReLU (recomputed from x with
// the forward's expression, so bit for bit the forward's mask).
template <bool kRelu, typename S, typename A>
void grad_sums_row(const S* __restrict__ x, const S* __restrict__ dy, int64_t len, A a, A b, A mu,
                   A* __restrict__ row_g, A* __restrict__ row_gx) {
  for (int64_t k = 0; k < len; ++k) {
    const A xv = static_cast<A>(x[k]), d = static_cast<A>(dy[k]);  // both loaded: a select, not a branch
    const A g = kRelu && !(xv * a + b > A(0)) ? A(0) : d;
    row_g[k] += g;
    row_gx[k] += g * (xv - mu);
  }
}

// dx = k * (g - mean_g - (x - mu) * r_mean_gx), the formula at the top of this file.
template <bool kRelu, typename S, typename A>
void dx_row(const S* __restrict__ x, const S* __restrict__ dy, S* __restrict__ dx, int64_t len, A a, A b, A mu, A k,
            A mean_g, A r_mean_gx) {
  for (int64_t j = 0; j < len; ++j) {
    const A xv = static_cast<A>(x[j]), d = static_cast<A>(dy[j]);
    const A g = kRelu && !(xv * a + b > A(0)) ? A(0) : d;
    dx[j] = static_cast<S>(k * (g - mean_g - (xv - mu) * r_mean_gx));
  }
}

// ---- the pooled layer: relu(scale * x + shift), then 2x2 max-pool, never materialised --------

// window_max's mirror, for a < 0.
template <typename A>
inline A window_min(A p, A q, A r, A t) {
  A best = p;
  best = (q < best) | (q != q) ? q : best;
  best = (r < best) | (r != r) ? r : best;
  best = (t < best) | (t != t) ? t : best;
  return best;
}

// relu(a * x + b) is monotone in x (non-decreasing for a >= 0, non-increasing for a < 0), and so
// is its rounding: the window's maximum activation is the activation of its extreme x (largest,
// or smallest for a < 0), bit for bit, NaN included. One affine map per window instead of four,
// and a loop that vectorises (the per-element form did not). The extreme x is kept (ext): the
// backward's sums need only it, not the full-size x.
template <typename S, typename A, bool kIncreasing>
void pool_row(const S* __restrict__ x0, const S* __restrict__ x1, S* __restrict__ out, S* __restrict__ ext,
              int64_t wo, A a, A b) {
  for (int64_t j = 0; j < wo; ++j) {
    const A p = x0[2 * j], q = x0[2 * j + 1], r = x1[2 * j], t = x1[2 * j + 1];
    const A m = kIncreasing ? window_max(p, q, r, t) : window_min(p, q, r, t);
    out[j] = static_cast<S>(relu_of(m * a + b));
    ext[j] = static_cast<S>(m);
  }
}

// The pooled output Y as the forward stored it (rounded to S: bf16 rounds), from the extreme x.
template <typename S, typename A>
inline A stored(A v) {
  return static_cast<A>(static_cast<S>(v));
}
template <typename S, typename A>
inline A pooled_from(A ext, A a, A b) {
  return stored<S, A>(relu_of(ext * a + b));
}

// The gradient reaching the pooled layer's pre-activation: dY goes to the window's winner, the
// first element whose activation equals Y (torch's tie rule), and only if Y > 0 (the ReLU's mask
// at the winner); Y = 0 or NaN passes nothing, as in torch's relu + max_pool2d backward. Picked by
// selects (branches mispredict on real activations).
template <typename A>
struct Winner {
  A ga, gb, gc, gd;  // the gradient at each of the window's four places
};

template <typename S, typename A>
inline Winner<A> winner(A xa, A xb, A xc, A a, A b, A y, A dy) {
  const A ya = stored<S, A>(relu_of(xa * a + b)), yb = stored<S, A>(relu_of(xb * a + b)),
          yc = stored<S, A>(relu_of(xc * a + b));
  const A g = y > A(0) ? dy : A(0);
  Winner<A> w;
  w.ga = ya == y ? g : A(0);
  const A left_b = ya == y ? A(0) : g;
  w.gb = yb == y ? left_b : A(0);
  const A left_c = yb == y ? A(0) : left_b;
  w.gc = yc == y ? left_c : A(0);
  w.gd = yc == y ? A(0) : left_c;
  return w;
}

// The sums over one pooled plane: g = dY where Y > 0, times the winner's centred input. The
// extreme x stands for the winner's x (they differ only when two inputs round to the same
// activation, by less than that rounding), so this pass never reads the full-size x.
template <typename S, typename A>
void pooled_grad_sums(const S* __restrict__ ext, const S* __restrict__ dy, int64_t len, A a, A b, A mu,
                      A* __restrict__ row_g, A* __restrict__ row_gx) {
  for (int64_t k = 0; k < len; ++k) {
    const A e = ext[k], d = dy[k];
    const A g = pooled_from<S, A>(e, a, b) > A(0) ? d : A(0);
    row_g[k] += g;
    row_gx[k] += g * (e - mu);
  }
}

template <typename S, typename A>
void pooled_dx_row(const S* __restrict__ x0, const S* __restrict__ x1, const S* __restrict__ ext,
                   const S* __restrict__ dy, S* __restrict__ d0, S* __restrict__ d1, int64_t wo, A a, A b, A mu,
                   A k, A mean_g, A r_mean_gx) {
  for (int64_t j = 0; j < wo; ++j) {
    const A xa = x0[2 * j], xb = x0[2 * j + 1], xc = x1[2 * j], xd = x1[2 * j + 1];
    const auto w = winner<S, A>(xa, xb, xc, a, b, pooled_from<S, A>(ext[j], a, b), dy[j]);
    d0[2 * j] = static_cast<S>(k * (w.ga - mean_g - (xa - mu) * r_mean_gx));
    d0[2 * j + 1] = static_cast<S>(k * (w.gb - mean_g - (xb - mu) * r_mean_gx));
    d1[2 * j] = static_cast<S>(k * (w.gc - mean_g - (xc - mu) * r_mean_gx));
    d1[2 * j + 1] = static_cast<S>(k * (w.gd - mean_g - (xd - mu) * r_mean_gx));
  }
}

// ---- shared by both layers -----------------------------------------------------------------

struct BatchStats {
  torch::Tensor mean, var, invstd;  // [C], in the accumulation type
};

// Two passes (mean, then squared deviations): E[x^2] - E[x]^2 cancels when |mu| >> std.
BatchStats batch_stats(const torch::Tensor& x, double eps) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c), m = n * s;
  BatchStats st;
  st.mean = torch::empty({c}, x.options().dtype(acc_type(x.scalar_type())));
  st.var = torch::empty_like(st.mean);
  st.invstd = torch::empty_like(st.mean);
  AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_stats", [&] {
    using A = Acc<scalar_t>;
    const scalar_t* px = x.data_ptr<scalar_t>();
    A* pm = st.mean.data_ptr<A>();
    A* pv = st.var.data_ptr<A>();
    A* pr = st.invstd.data_ptr<A>();
    at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
      std::vector<A> row(static_cast<size_t>(s));
      for (int64_t ch = begin; ch < end; ++ch) {
        std::fill(row.begin(), row.end(), A(0));
        for (int64_t i = 0; i < n; ++i) add_row(px + (i * c + ch) * s, row.data(), s);
        const A mu = static_cast<A>(std::accumulate(row.begin(), row.end(), 0.0) / static_cast<double>(m));
        std::fill(row.begin(), row.end(), A(0));
        for (int64_t i = 0; i < n; ++i) add_squared_row(px + (i * c + ch) * s, mu, row.data(), s);
        const double var = std::accumulate(row.begin(), row.end(), 0.0) / static_cast<double>(m);
        pm[ch] = mu;
        pv[ch] = static_cast<A>(var);
        pr[ch] = static_cast<A>(1.0 / std::sqrt(var + eps));
      }
    });
  });
  return st;
}

// The running statistics: updated in place, never differentiated. A struct, so that the
// autograd Function does not count them as inputs (LibTorch 1.13's Function also refuses an
// undefined tensor input, and either may be undefined).
struct RunningStats {
  torch::Tensor mean, var;

  void update(const BatchStats& st, int64_t m, double momentum) const {
    if (mean.defined()) mean.mul_(1 - momentum).add_(st.mean.to(mean.scalar_type()), momentum);
    if (var.defined()) {
      const double unbiased = static_cast<double>(m) / static_cast<double>(m - 1);
      var.mul_(1 - momentum).add_(st.var.to(var.scalar_type()), momentum * unbiased);
    }
  }
};

// Per-channel scale and shift of the affine map scale * x + shift, from the statistics.
template <typename A>
void affine_coefficients(const torch::Tensor& weight, const torch::Tensor& bias, const BatchStats& st,
                         std::vector<A>& scale, std::vector<A>& shift) {
  const int64_t c = st.mean.size(0);
  scale.resize(static_cast<size_t>(c));
  shift.resize(static_cast<size_t>(c));
  const A* w = weight.data_ptr<A>();
  const A* b = bias.data_ptr<A>();
  const A* mean = st.mean.data_ptr<A>();
  const A* invstd = st.invstd.data_ptr<A>();
  for (int64_t ch = 0; ch < c; ++ch) {
    scale[ch] = w[ch] * invstd[ch];
    shift[ch] = b[ch] - mean[ch] * scale[ch];
  }
}

// Per-channel sums of the backward's first pass: sum(g) and sum(g * xhat).
struct GradSums {
  torch::Tensor g, gx;
};

// Fills sums (sum(g), sum(g * xhat)) channel by channel: add_rows(i, ch, row_g, row_gx) adds
// sample i's plane of channel ch element-wise into rows of `len` partial sums, which are then
// added in double (as batch_stats does).
template <typename A, typename AddRows>
void channel_grad_sums(int64_t n, int64_t c, int64_t len, const A* invstd, const GradSums& sums, AddRows add_rows) {
  A* pg = sums.g.data_ptr<A>();
  A* pgx = sums.gx.data_ptr<A>();
  at::parallel_for(0, c, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> row_g(static_cast<size_t>(len)), row_gx(static_cast<size_t>(len));
    for (int64_t ch = begin; ch < end; ++ch) {
      std::fill(row_g.begin(), row_g.end(), A(0));
      std::fill(row_gx.begin(), row_gx.end(), A(0));
      for (int64_t i = 0; i < n; ++i) add_rows(i, ch, row_g.data(), row_gx.data());
      pg[ch] = static_cast<A>(std::accumulate(row_g.begin(), row_g.end(), 0.0));
      pgx[ch] = static_cast<A>(std::accumulate(row_gx.begin(), row_gx.end(), 0.0) * invstd[ch]);
    }
  });
}

// Per channel: dx = k * (g - mean_g - (x - mu) * r_mean_gx) with k = w * r, r = invstd.
template <typename A>
struct DxPlan {
  std::vector<A> k, mean_g, r_mean_gx;
  DxPlan(const torch::Tensor& weight, const BatchStats& st, const GradSums& sums, int64_t m) {
    const int64_t c = st.mean.size(0);
    const A *w = weight.data_ptr<A>(), *r = st.invstd.data_ptr<A>();
    const A *sg = sums.g.data_ptr<A>(), *sgx = sums.gx.data_ptr<A>();
    for (int64_t ch = 0; ch < c; ++ch) {
      k.push_back(w[ch] * r[ch]);
      mean_g.push_back(sg[ch] / static_cast<A>(m));
      r_mean_gx.push_back(r[ch] * sgx[ch] / static_cast<A>(m));
    }
  }
};

BatchStats saved_stats(const torch::Tensor& mean, const torch::Tensor& invstd) { return {mean, {}, invstd}; }

struct BatchNormTrainFn : torch::autograd::Function<BatchNormTrainFn> {
  // weight and bias are always defined here (ones and zeros stand in for no affine transform).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double momentum, double eps, bool relu) {
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
    const auto st = batch_stats(x, eps);
    auto y = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train", [&] {
      using A = Acc<scalar_t>;
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      const scalar_t* px = x.data_ptr<scalar_t>();
      scalar_t* py = y.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) affine_row(px + p * s, py + p * s, s, scale[p % c], shift[p % c], relu);
      });
    });
    running.update(st, n * s, momentum);
    ctx->save_for_backward({x, weight, bias, st.mean, st.invstd});
    ctx->saved_data["relu"] = relu;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const auto st = saved_stats(saved[3], saved[4]);
    const bool relu = ctx->saved_data["relu"].toBool();
    auto dy = grads[0].contiguous();
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
    GradSums sums{torch::empty_like(st.mean), torch::empty_like(st.mean)};
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train_backward", [&] {
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      const A* pr = st.invstd.data_ptr<A>();
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      auto* sums_row = relu ? &grad_sums_row<true, scalar_t, A> : &grad_sums_row<false, scalar_t, A>;
      channel_grad_sums<A>(n, c, s, pr, sums, [&](int64_t i, int64_t ch, A* row_g, A* row_gx) {
        const int64_t off = (i * c + ch) * s;
        sums_row(px + off, pdy + off, s, scale[ch], shift[ch], pm[ch], row_g, row_gx);
      });
      const DxPlan<A> plan(weight, st, sums, n * s);
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      auto* row = relu ? &dx_row<true, scalar_t, A> : &dx_row<false, scalar_t, A>;
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          const int64_t ch = p % c;
          row(px + p * s, pdy + p * s, pdx + p * s, s, scale[ch], shift[ch], pm[ch], plan.k[ch], plan.mean_g[ch],
              plan.r_mean_gx[ch]);
        }
      });
    });
    return {dx, ctx->needs_input_grad(1) ? sums.gx : torch::Tensor(), ctx->needs_input_grad(2) ? sums.g : torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// relu(batch norm) then 2x2 max-pool in one op: the full-size activation is neither written nor
// saved. The backward's sums read only pooled-size tensors (each window's extreme x and dY); its
// second pass reads x once and writes dx once.
struct BatchNormReluPoolFn : torch::autograd::Function<BatchNormReluPoolFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double momentum, double eps) {
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
    const auto st = batch_stats(x, eps);
    auto y = torch::empty({n, c, ho, wo}, x.options()), ext = torch::empty_like(y);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_relu_pool", [&] {
      using A = Acc<scalar_t>;
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      const scalar_t* px = x.data_ptr<scalar_t>();
      scalar_t* py = y.data_ptr<scalar_t>();
      scalar_t* pe = ext.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          for (int64_t i = 0; i < ho; ++i) {
            const scalar_t* x0 = px + p * h * w + 2 * i * w;
            const A a = scale[p % c], b = shift[p % c];
            if (a >= A(0)) {
              pool_row<scalar_t, A, true>(x0, x0 + w, py + (p * ho + i) * wo, pe + (p * ho + i) * wo, wo, a, b);
            } else {
              pool_row<scalar_t, A, false>(x0, x0 + w, py + (p * ho + i) * wo, pe + (p * ho + i) * wo, wo, a, b);
            }
          }
        }
      });
    });
    running.update(st, n * h * w, momentum);
    ctx->save_for_backward({x, ext, weight, bias, st.mean, st.invstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &ext = saved[1], &weight = saved[2], &bias = saved[3];
    const auto st = saved_stats(saved[4], saved[5]);
    auto dy = grads[0].contiguous();
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
    GradSums sums{torch::empty_like(st.mean), torch::empty_like(st.mean)};
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_relu_pool_backward", [&] {
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pe = ext.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      const A* pr = st.invstd.data_ptr<A>();
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      // Only window winners carry a gradient, so the sums run over the pooled grid.
      const int64_t len = ho * wo;
      channel_grad_sums<A>(n, c, len, pr, sums, [&](int64_t i, int64_t ch, A* row_g, A* row_gx) {
        const int64_t o = (i * c + ch) * len;
        pooled_grad_sums(pe + o, pdy + o, len, scale[ch], shift[ch], pm[ch], row_g, row_gx);
      });
      const DxPlan<A> plan(weight, st, sums, n * h * w);
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          const int64_t ch = p % c;
          const A a = scale[ch], b = shift[ch], mu = pm[ch], k = plan.k[ch], mg = plan.mean_g[ch],
                  rg = plan.r_mean_gx[ch];
          for (int64_t r = 0; r < ho; ++r) {
            const int64_t row = p * h * w + 2 * r * w, o = (p * ho + r) * wo;
            pooled_dx_row(px + row, px + row + w, pe + o, pdy + o, pdx + row, pdx + row + w, wo, a, b, mu, k, mg, rg);
            // An odd last column is in no window: it gets the normalisation's terms only.
            if (w % 2) {
              for (int64_t q : {row + w - 1, row + 2 * w - 1}) {
                pdx[q] = static_cast<scalar_t>(k * (-mg - (static_cast<A>(px[q]) - mu) * rg));
              }
            }
          }
          if (h % 2) {  // and so is an odd last row
            const int64_t row = p * h * w + (h - 1) * w;
            for (int64_t q = row; q < row + w; ++q) pdx[q] = static_cast<scalar_t>(k * (-mg - (static_cast<A>(px[q]) - mu) * rg));
          }
        }
      });
    });
    return {dx, ctx->needs_input_grad(1) ? sums.gx : torch::Tensor(), ctx->needs_input_grad(2) ? sums.g : torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
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

void check_train_input(const torch::Tensor& x, double eps, const char* who) {
  TORCH_CHECK(x.defined() && x.dim() >= 2, who, ": expected input [N, C, ...], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(eps > 0, who, ": eps must be positive, got ", eps);
  TORCH_CHECK(x.size(1) > 0 && x.numel() / x.size(1) > 1, who,
              ": training needs more than 1 value per channel, got input ", x.sizes());
}

torch::Tensor defined_or(const torch::Tensor& t, const torch::Tensor& x, double value) {
  if (t.defined()) return t;
  return torch::full({x.size(1)}, value, x.options().dtype(acc_type(x.scalar_type())));
}

}  // namespace

torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu) {
  check_train_input(x, eps, "batch_norm_train");
  if (!fast_path(x, weight, bias)) {
    auto y = torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/true, momentum, eps,
                               /*cudnn_enabled=*/true);
    return relu ? torch::relu(y) : y;
  }
  return BatchNormTrainFn::apply(x, defined_or(weight, x, 1), defined_or(bias, x, 0),
                                 RunningStats{running_mean, running_var}, momentum, eps, relu);
}

torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps) {
  check_train_input(x, eps, "batch_norm_relu_max_pool2x2");
  TORCH_CHECK(x.dim() == 4, "batch_norm_relu_max_pool2x2: expected input [N, C, H, W], got ", x.sizes());
  if (!fast_path(x, weight, bias) || x.size(2) < 2 || x.size(3) < 2) {
    return max_pool2x2(batch_norm_train(x, weight, bias, running_mean, running_var, momentum, eps, /*relu=*/true));
  }
  return BatchNormReluPoolFn::apply(x, defined_or(weight, x, 1), defined_or(bias, x, 0),
                                    RunningStats{running_mean, running_var}, momentum, eps);
}

}  // namespace selfsup::functional
