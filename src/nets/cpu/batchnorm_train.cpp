// cpu::batch_norm_train and cpu::batch_norm_relu_max_pool2x2: training-mode batch norm (+ ReLU)
// (+ 2x2 max-pool) in fused CPU kernels (cpu_kernels.h says why).
//
// With M = N * H * W values per channel, mean mu and biased variance var, xhat = (x - mu) * r,
// r = 1 / sqrt(var + eps), the layer computes y = relu(w * xhat + b) = relu(scale * x + shift)
// with scale = w * r, shift = b - mu * scale. Writing g = dL/dy masked by the ReLU (y > 0),
//   dL/db = sum(g),   dL/dw = sum(g * xhat),
//   dL/dx = w * r * (g - sum(g) / M - xhat * sum(g * xhat) / M),
// since d xhat_j / d x_i = r * (delta_ij - 1/M - xhat_i xhat_j / M). The backward needs x and
// the per-channel statistics only: the mask is recomputed from x with the forward's own
// expression, so it matches the forward bit for bit.
//
// Both layouts (functional::Layout) run the same routines. A block is one sample's pixels of L channels,
// [pixels, L], with L = 1 in NCHW (a plane) and L = 16 in nChw16c; either way block (i, g) starts
// at (i * C / L + g) * pixels * L, and the routines loop over pixels, then lanes. With L = 1 the
// pixel loop vectorises; with L = 16 the lane loop is one AVX-512 register of floats. Per-channel
// coefficients are L-lane arrays. Values are computed with the same expressions and sums added
// in the same order; the L = 16 loops are also compiled for AVX-512 and AVX2 (for_each_block),
// whose fused multiply-adds round once where the baseline rounds twice, so the two layouts agree
// to rounding (tests/nets/blocked_layout_test.cpp).
#include "cpu_kernels.h"
#include "kernel_util.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

namespace selfsup::nets::cpu {

namespace {

torch::ScalarType acc_type(torch::ScalarType t) { return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }

// f(std::integral_constant<int, L>{}) with L = 16 for nChw16c, else 1.
template <typename F>
void with_lanes(bool blocked, F f) {
  if (blocked) {
    f(std::integral_constant<int, 16>{});
  } else {
    f(std::integral_constant<int, 1>{});
  }
}

// The inner loops are functions of their own with restrict pointers: inlined into the dispatch
// and parallel_for lambdas, the compiler could not rule out aliasing between the rows it reads
// and the row it writes, and ran them up to 3x slower.

// Per-channel dx = k * (g - mean_g - (x - mu) * r_mean_gx), the formula at the top of this file,
// with k = w * r and r = invstd.
template <typename A>
struct DxPlan {
  std::vector<A> k, mean_g, r_mean_gx;
};

// One block's per-channel coefficients as L-lane arrays, copied by value into each routine (a
// pointer to them could alias the rows it writes). The affine map a * x + b, the mean, and for
// the backward's second pass the DxPlan's terms.
template <int L, typename A>
struct Coefs {
  A a[L] = {}, b[L] = {}, mu[L] = {}, k[L] = {}, mean_g[L] = {}, r_mean_gx[L] = {};
};

template <int L, typename A>
SELFSUP_ALWAYS_INLINE inline Coefs<L, A> coefs(const std::vector<A>& scale, const std::vector<A>& shift, const A* mean, int64_t ch0,
                  const DxPlan<A>* plan = nullptr) {
  Coefs<L, A> c;
  for (int l = 0; l < L; ++l) {
    c.a[l] = scale[ch0 + l];
    c.b[l] = shift[ch0 + l];
    c.mu[l] = mean[ch0 + l];
    if (plan) {
      c.k[l] = plan->k[ch0 + l];
      c.mean_g[l] = plan->mean_g[ch0 + l];
      c.r_mean_gx[l] = plan->r_mean_gx[ch0 + l];
    }
  }
  return c;
}

// row[k] += x[k] (and for the second pass += (x[k] - mu)^2): each channel's N planes are summed
// element-wise into one row of partial sums, a loop that vectorises (a running scalar sum would
// not), and the row is then added in double (lane_sum).
template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void add_rows(const S* __restrict__ x, A* __restrict__ row, int64_t pixels) {
  for (int64_t k = 0; k < pixels * L; ++k) row[k] += static_cast<A>(x[k]);
}
template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void add_squared_rows(const S* __restrict__ x, const A* mu_of, A* __restrict__ row,
                                                  int64_t pixels) {
  A mu[L];
  for (int l = 0; l < L; ++l) mu[l] = mu_of[l];
  for (int64_t q = 0; q < pixels; ++q) {
    for (int l = 0; l < L; ++l) {
      const A d = static_cast<A>(x[q * L + l]) - mu[l];
      row[q * L + l] += d * d;
    }
  }
}

// Lane l's partial sums, added in double in pixel order.
template <int L, typename A>
SELFSUP_ALWAYS_INLINE inline double lane_sum(const A* row, int64_t pixels, int l) {
  double sum = 0;
  for (int64_t q = 0; q < pixels; ++q) sum += row[q * L + l];
  return sum;
}

// v < 0 ? 0 : v lets NaN through, as torch::relu does.
template <typename A>
inline A relu_of(A v) {
  return v < A(0) ? A(0) : v;
}

template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void affine_rows(const S* __restrict__ x, S* __restrict__ y, int64_t pixels,
                                             Coefs<L, A> c, bool relu) {
  const A *a = c.a, *b = c.b;
  if (relu) {
    for (int64_t q = 0; q < pixels; ++q) {
      for (int l = 0; l < L; ++l) y[q * L + l] = static_cast<S>(relu_of(static_cast<A>(x[q * L + l]) * a[l] + b[l]));
    }
  } else {
    for (int64_t q = 0; q < pixels; ++q) {
      for (int l = 0; l < L; ++l) y[q * L + l] = static_cast<S>(static_cast<A>(x[q * L + l]) * a[l] + b[l]);
    }
  }
}

// Backward, first pass of the unpooled layer: g = dy masked by the ReLU (recomputed from x with
// the forward's expression, so bit for bit the forward's mask).
template <bool kRelu, int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void grad_sums_rows(const S* __restrict__ x, const S* __restrict__ dy, int64_t pixels,
                                                Coefs<L, A> c, A* __restrict__ row_g, A* __restrict__ row_gx) {
  const A *a = c.a, *b = c.b, *mu = c.mu;
  for (int64_t q = 0; q < pixels; ++q) {
    for (int l = 0; l < L; ++l) {
      const int64_t k = q * L + l;
      const A xv = static_cast<A>(x[k]), d = static_cast<A>(dy[k]);  // both loaded: a select, not a branch
      const A g = kRelu && !(xv * a[l] + b[l] > A(0)) ? A(0) : d;
      row_g[k] += g;
      row_gx[k] += g * (xv - mu[l]);
    }
  }
}

template <bool kRelu, int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void dx_rows(const S* __restrict__ x, const S* __restrict__ dy, S* __restrict__ dx,
                                         int64_t pixels, Coefs<L, A> c) {
  const A *a = c.a, *b = c.b, *mu = c.mu, *k = c.k, *mean_g = c.mean_g, *r_mean_gx = c.r_mean_gx;
  for (int64_t q = 0; q < pixels; ++q) {
    for (int l = 0; l < L; ++l) {
      const A xv = static_cast<A>(x[q * L + l]), d = static_cast<A>(dy[q * L + l]);
      const A g = kRelu && !(xv * a[l] + b[l] > A(0)) ? A(0) : d;
      dx[q * L + l] = static_cast<S>(k[l] * (g - mean_g[l] - (xv - mu[l]) * r_mean_gx[l]));
    }
  }
}

// ---- the pooled layer: relu(scale * x + shift), then 2x2 max-pool, never materialised --------

// window_max's mirror, for a < 0.
template <typename A>
inline A window_min(A p, A q, A r, A t) {
  A best = p;
  best = ((q < best) | (q != q)) ? q : best;
  best = ((r < best) | (r != r)) ? r : best;
  best = ((t < best) | (t != t)) ? t : best;
  return best;
}

// relu(a * x + b) is monotone in x (non-decreasing for a >= 0, non-increasing for a < 0), and so
// is its rounding: the window's maximum activation is the activation of its extreme x (largest,
// or smallest for a < 0), bit for bit, NaN included. One affine map per window instead of four,
// and a loop that vectorises (the per-element form did not). The extreme x is kept (ext): the
// backward's sums need only it, not the full-size x. kDirection: +1 (every a >= 0) or -1 (every
// a < 0) for one channel, 0 to pick per lane.
template <int kDirection, int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void pool_rows(const S* __restrict__ x0, const S* __restrict__ x1, S* __restrict__ out,
                                           S* __restrict__ ext, int64_t wo, Coefs<L, A> c) {
  const A *a = c.a, *b = c.b;
  for (int64_t j = 0; j < wo; ++j) {
    for (int l = 0; l < L; ++l) {
      const A p = x0[2 * j * L + l], q = x0[(2 * j + 1) * L + l], r = x1[2 * j * L + l], t = x1[(2 * j + 1) * L + l];
      A m;
      if (kDirection > 0) {
        m = window_max(p, q, r, t);
      } else if (kDirection < 0) {
        m = window_min(p, q, r, t);
      } else {
        // Per lane, without a branch: min(v) = -max(-v), exactly (NaN, ties and signed zeros
        // included), so sign * max(sign * v) picks the maximum or the minimum.
        const A sign = a[l] >= A(0) ? A(1) : A(-1);
        m = sign * window_max(sign * p, sign * q, sign * r, sign * t);
      }
      out[j * L + l] = static_cast<S>(relu_of(m * a[l] + b[l]));
      ext[j * L + l] = static_cast<S>(m);
    }
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

// The sums over one pooled block: g = dY where Y > 0, times the winner's centred input. The
// extreme x stands for the winner's x (they differ only when two inputs round to the same
// activation, by less than that rounding), so this pass never reads the full-size x.
template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void pooled_grad_sums(const S* __restrict__ ext, const S* __restrict__ dy, int64_t pixels,
                                                  Coefs<L, A> c, A* __restrict__ row_g, A* __restrict__ row_gx) {
  const A *a = c.a, *b = c.b, *mu = c.mu;
  for (int64_t q = 0; q < pixels; ++q) {
    for (int l = 0; l < L; ++l) {
      const int64_t k = q * L + l;
      const A e = ext[k], d = dy[k];
      const A g = pooled_from<S, A>(e, a[l], b[l]) > A(0) ? d : A(0);
      row_g[k] += g;
      row_gx[k] += g * (e - mu[l]);
    }
  }
}

template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void pooled_dx_rows(const S* __restrict__ x0, const S* __restrict__ x1,
                                                const S* __restrict__ ext, const S* __restrict__ dy, S* __restrict__ d0,
                                                S* __restrict__ d1, int64_t wo, Coefs<L, A> c) {
  const A *a = c.a, *b = c.b, *mu = c.mu, *k = c.k, *mg = c.mean_g, *rg = c.r_mean_gx;
  for (int64_t j = 0; j < wo; ++j) {
    for (int l = 0; l < L; ++l) {
      const int64_t left = 2 * j * L + l, right = (2 * j + 1) * L + l;
      const A xa = x0[left], xb = x0[right], xc = x1[left], xd = x1[right];
      const auto w = winner<S, A>(xa, xb, xc, a[l], b[l], pooled_from<S, A>(ext[j * L + l], a[l], b[l]), dy[j * L + l]);
      d0[left] = static_cast<S>(k[l] * (w.ga - mg[l] - (xa - mu[l]) * rg[l]));
      d0[right] = static_cast<S>(k[l] * (w.gb - mg[l] - (xb - mu[l]) * rg[l]));
      d1[left] = static_cast<S>(k[l] * (w.gc - mg[l] - (xc - mu[l]) * rg[l]));
      d1[right] = static_cast<S>(k[l] * (w.gd - mg[l] - (xd - mu[l]) * rg[l]));
    }
  }
}

// A pixel in no pooling window (an odd last row or column) gets the normalisation's terms only.
template <int L, typename S, typename A>
SELFSUP_ALWAYS_INLINE inline void unpooled_dx(const S* __restrict__ x, S* __restrict__ dx, int64_t pixels,
                                             Coefs<L, A> c) {
  const A *mu = c.mu, *k = c.k, *mg = c.mean_g, *rg = c.r_mean_gx;
  for (int64_t q = 0; q < pixels; ++q) {
    for (int l = 0; l < L; ++l) {
      dx[q * L + l] = static_cast<S>(k[l] * (-mg[l] - (static_cast<A>(x[q * L + l]) - mu[l]) * rg[l]));
    }
  }
}

// ---- shared by both layers -----------------------------------------------------------------

// The geometry of an input [N, C, H, W] (or [N, C, ...] for the unpooled layer) in either layout.
struct Shape {
  int64_t n, c, h, w, pixels;  // pixels = H * W (the product of the trailing dims)
  bool blocked;

  explicit Shape(const torch::Tensor& x, bool blocked_layout) : blocked(blocked_layout) {
    n = x.size(0);
    c = blocked ? x.size(1) * 16 : x.size(1);
    pixels = blocked ? x.size(2) * x.size(3) : x.numel() / (n * c);
    h = x.dim() >= 4 ? x.size(2) : 1;
    w = x.dim() >= 4 ? x.size(3) : pixels;
  }
  int64_t lanes() const { return blocked ? 16 : 1; }
  int64_t groups() const { return c / lanes(); }
  int64_t count() const { return n * pixels; }  // values per channel
  // The start of block (i, g) of a tensor with `px` pixels per plane.
  int64_t block(int64_t i, int64_t g, int64_t px) const { return (i * groups() + g) * px * lanes(); }
  // The tensor shape of this input's 2x2-pooled output, in its layout.
  std::vector<int64_t> pooled() const {
    if (blocked) return {n, c / 16, h / 2, w / 2, 16};
    return {n, c, h / 2, w / 2};
  }
};

struct BatchStats {
  torch::Tensor mean, var, invstd;  // [C], in the accumulation type
};

// Two passes (mean, then squared deviations): E[x^2] - E[x]^2 cancels when |mu| >> std.
BatchStats batch_stats(const torch::Tensor& x, const Shape& sh, double eps) {
  BatchStats st;
  st.mean = torch::empty({sh.c}, x.options().dtype(acc_type(x.scalar_type())));
  st.var = torch::empty_like(st.mean);
  st.invstd = torch::empty_like(st.mean);
  const double m = static_cast<double>(sh.count());
  AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_stats", [&] {
    using A = Acc<scalar_t>;
    const scalar_t* px = x.data_ptr<scalar_t>();
    A* pm = st.mean.data_ptr<A>();
    A* pv = st.var.data_ptr<A>();
    A* pr = st.invstd.data_ptr<A>();
    with_lanes(sh.blocked, [&](auto lanes) {
      constexpr int L = decltype(lanes)::value;
      at::parallel_for(0, sh.groups(), 1, [&](int64_t begin, int64_t end) {
        std::vector<A> row(static_cast<size_t>(sh.pixels * L));
        for_each_block<L>(begin, end, [&](int64_t g) SELFSUP_ALWAYS_INLINE {
          A* mu = pm + g * L;
          std::fill(row.begin(), row.end(), A(0));
          for (int64_t i = 0; i < sh.n; ++i) add_rows<L>(px + sh.block(i, g, sh.pixels), row.data(), sh.pixels);
          for (int l = 0; l < L; ++l) mu[l] = static_cast<A>(lane_sum<L>(row.data(), sh.pixels, l) / m);
          std::fill(row.begin(), row.end(), A(0));
          for (int64_t i = 0; i < sh.n; ++i) {
            add_squared_rows<L>(px + sh.block(i, g, sh.pixels), mu, row.data(), sh.pixels);
          }
          for (int l = 0; l < L; ++l) {
            const double var = lane_sum<L>(row.data(), sh.pixels, l) / m;
            pv[g * L + l] = static_cast<A>(var);
            pr[g * L + l] = static_cast<A>(1.0 / std::sqrt(var + eps));
          }
        });
      });
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

// Fills sums (sum(g), sum(g * xhat)) group by group: add_rows(i, g, row_g, row_gx) adds sample
// i's block of group g element-wise into rows of `pixels * L` partial sums, which are then added
// in double (as batch_stats does).
template <int L, typename A, typename AddRows>
void channel_grad_sums(const Shape& sh, int64_t pixels, const A* invstd, const GradSums& sums, AddRows add_rows) {
  A* pg = sums.g.data_ptr<A>();
  A* pgx = sums.gx.data_ptr<A>();
  at::parallel_for(0, sh.groups(), 1, [&](int64_t begin, int64_t end) {
    std::vector<A> row_g(static_cast<size_t>(pixels * L)), row_gx(static_cast<size_t>(pixels * L));
    for_each_block<L>(begin, end, [&](int64_t g) SELFSUP_ALWAYS_INLINE {
      std::fill(row_g.begin(), row_g.end(), A(0));
      std::fill(row_gx.begin(), row_gx.end(), A(0));
      for (int64_t i = 0; i < sh.n; ++i) add_rows(i, g, row_g.data(), row_gx.data());
      for (int l = 0; l < L; ++l) {
        const int64_t ch = g * L + l;
        pg[ch] = static_cast<A>(lane_sum<L>(row_g.data(), pixels, l));
        pgx[ch] = static_cast<A>(lane_sum<L>(row_gx.data(), pixels, l) * invstd[ch]);
      }
    });
  });
}

template <typename A>
DxPlan<A> dx_plan(const torch::Tensor& weight, const BatchStats& st, const GradSums& sums, int64_t m) {
  const int64_t c = st.mean.size(0);
  const A *w = weight.data_ptr<A>(), *r = st.invstd.data_ptr<A>();
  const A *sg = sums.g.data_ptr<A>(), *sgx = sums.gx.data_ptr<A>();
  DxPlan<A> plan;
  for (int64_t ch = 0; ch < c; ++ch) {
    plan.k.push_back(w[ch] * r[ch]);
    plan.mean_g.push_back(sg[ch] / static_cast<A>(m));
    plan.r_mean_gx.push_back(r[ch] * sgx[ch] / static_cast<A>(m));
  }
  return plan;
}

BatchStats saved_stats(const torch::Tensor& mean, const torch::Tensor& invstd) { return {mean, {}, invstd}; }

struct BatchNormTrainFn : torch::autograd::Function<BatchNormTrainFn> {
  // weight and bias are always defined here (ones and zeros stand in for no affine transform).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double momentum, double eps, bool relu, bool blocked) {
    const Shape sh(x, blocked);
    const auto st = batch_stats(x, sh, eps);
    auto y = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train", [&] {
      using A = Acc<scalar_t>;
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      const scalar_t* px = x.data_ptr<scalar_t>();
      scalar_t* py = y.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      with_lanes(blocked, [&](auto lanes) {
        constexpr int L = decltype(lanes)::value;
        at::parallel_for(0, sh.n * sh.groups(), 1, [&](int64_t begin, int64_t end) {
          for_each_block<L>(begin, end, [&](int64_t p) SELFSUP_ALWAYS_INLINE {
            const int64_t i = p / sh.groups(), g = p % sh.groups(), o = sh.block(i, g, sh.pixels);
            affine_rows<L>(px + o, py + o, sh.pixels, coefs<L>(scale, shift, pm, g * L), relu);
          });
        });
      });
    });
    running.update(st, sh.count(), momentum);
    ctx->save_for_backward({x, weight, bias, st.mean, st.invstd});
    ctx->saved_data["relu"] = relu;
    ctx->saved_data["blocked"] = blocked;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &bias = saved[2];
    const auto st = saved_stats(saved[3], saved[4]);
    const bool relu = ctx->saved_data["relu"].toBool();
    const Shape sh(x, ctx->saved_data["blocked"].toBool());
    auto dy = grads[0].contiguous();
    GradSums sums{torch::empty_like(st.mean), torch::empty_like(st.mean)};
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_train_backward", [&] {
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      const A* pr = st.invstd.data_ptr<A>();
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      with_lanes(sh.blocked, [&](auto lanes) {
        constexpr int L = decltype(lanes)::value;
        channel_grad_sums<L, A>(sh, sh.pixels, pr, sums, [&](int64_t i, int64_t g, A* row_g, A* row_gx) SELFSUP_ALWAYS_INLINE {
          const int64_t o = sh.block(i, g, sh.pixels);
          const auto c = coefs<L>(scale, shift, pm, g * L);
          if (relu) {
            grad_sums_rows<true, L>(px + o, pdy + o, sh.pixels, c, row_g, row_gx);
          } else {
            grad_sums_rows<false, L>(px + o, pdy + o, sh.pixels, c, row_g, row_gx);
          }
        });
        const auto plan = dx_plan<A>(weight, st, sums, sh.count());
        at::parallel_for(0, sh.n * sh.groups(), 1, [&](int64_t begin, int64_t end) {
          for_each_block<L>(begin, end, [&](int64_t p) SELFSUP_ALWAYS_INLINE {
            const int64_t i = p / sh.groups(), g = p % sh.groups(), o = sh.block(i, g, sh.pixels);
            const auto c = coefs<L>(scale, shift, pm, g * L, &plan);
            if (relu) {
              dx_rows<true, L>(px + o, pdy + o, pdx + o, sh.pixels, c);
            } else {
              dx_rows<false, L>(px + o, pdy + o, pdx + o, sh.pixels, c);
            }
          });
        });
      });
    });
    return {dx,
            ctx->needs_input_grad(1) ? sums.gx : torch::Tensor(),
            ctx->needs_input_grad(2) ? sums.g : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

// relu(batch norm) then 2x2 max-pool in one op: the full-size activation is neither written nor
// saved. The backward's sums read only pooled-size tensors (each window's extreme x and dY); its
// second pass reads x once and writes dx once.
struct BatchNormReluPoolFn : torch::autograd::Function<BatchNormReluPoolFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double momentum, double eps, bool blocked) {
    const Shape sh(x, blocked);
    const int64_t ho = sh.h / 2, wo = sh.w / 2;
    const auto st = batch_stats(x, sh, eps);
    auto y = torch::empty(sh.pooled(), x.options()), ext = torch::empty_like(y);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_relu_pool", [&] {
      using A = Acc<scalar_t>;
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      const scalar_t* px = x.data_ptr<scalar_t>();
      scalar_t* py = y.data_ptr<scalar_t>();
      scalar_t* pe = ext.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      with_lanes(blocked, [&](auto lanes) {
        constexpr int L = decltype(lanes)::value;
        at::parallel_for(0, sh.n * sh.groups(), 1, [&](int64_t begin, int64_t end) {
          for_each_block<L>(begin, end, [&](int64_t p) SELFSUP_ALWAYS_INLINE {
            const int64_t i = p / sh.groups(), g = p % sh.groups();
            const auto c = coefs<L>(scale, shift, pm, g * L);
            for (int64_t r = 0; r < ho; ++r) {
              const scalar_t* x0 = px + sh.block(i, g, sh.pixels) + 2 * r * sh.w * L;
              const int64_t o = sh.block(i, g, ho * wo) + r * wo * L;
              if (L > 1) {
                pool_rows<0, L>(x0, x0 + sh.w * L, py + o, pe + o, wo, c);
              } else if (c.a[0] >= A(0)) {
                pool_rows<1, L>(x0, x0 + sh.w * L, py + o, pe + o, wo, c);
              } else {
                pool_rows<-1, L>(x0, x0 + sh.w * L, py + o, pe + o, wo, c);
              }
            }
          });
        });
      });
    });
    running.update(st, sh.count(), momentum);
    ctx->save_for_backward({x, ext, weight, bias, st.mean, st.invstd});
    ctx->saved_data["blocked"] = blocked;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &ext = saved[1], &weight = saved[2], &bias = saved[3];
    const auto st = saved_stats(saved[4], saved[5]);
    const Shape sh(x, ctx->saved_data["blocked"].toBool());
    const int64_t h = sh.h, w = sh.w, ho = h / 2, wo = w / 2;
    auto dy = grads[0].contiguous();
    GradSums sums{torch::empty_like(st.mean), torch::empty_like(st.mean)};
    auto dx = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "batch_norm_relu_pool_backward", [&] {
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pe = ext.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      const A* pm = st.mean.data_ptr<A>();
      const A* pr = st.invstd.data_ptr<A>();
      std::vector<A> scale, shift;
      affine_coefficients<A>(weight, bias, st, scale, shift);
      with_lanes(sh.blocked, [&](auto lanes) {
        constexpr int L = decltype(lanes)::value;
        // Only window winners carry a gradient, so the sums run over the pooled grid.
        channel_grad_sums<L, A>(sh, ho * wo, pr, sums, [&](int64_t i, int64_t g, A* row_g, A* row_gx) SELFSUP_ALWAYS_INLINE {
          const int64_t o = sh.block(i, g, ho * wo);
          pooled_grad_sums<L>(pe + o, pdy + o, ho * wo, coefs<L>(scale, shift, pm, g * L), row_g, row_gx);
        });
        const auto plan = dx_plan<A>(weight, st, sums, sh.count());
        at::parallel_for(0, sh.n * sh.groups(), 1, [&](int64_t begin, int64_t end) {
          for_each_block<L>(begin, end, [&](int64_t p) SELFSUP_ALWAYS_INLINE {
            const int64_t i = p / sh.groups(), g = p % sh.groups(), ch0 = g * L, base = sh.block(i, g, sh.pixels);
            const auto c = coefs<L>(scale, shift, pm, ch0, &plan);
            for (int64_t r = 0; r < ho; ++r) {
              const int64_t row = base + 2 * r * w * L, o = sh.block(i, g, ho * wo) + r * wo * L;
              pooled_dx_rows<L>(px + row, px + row + w * L, pe + o, pdy + o, pdx + row, pdx + row + w * L, wo, c);
              if (w % 2) {  // an odd last column is in no window
                for (int64_t q : {row + (w - 1) * L, row + (2 * w - 1) * L}) unpooled_dx<L>(px + q, pdx + q, 1, c);
              }
            }
            if (h % 2) {  // and so is an odd last row
              const int64_t row = base + (h - 1) * w * L;
              unpooled_dx<L>(px + row, pdx + row, w, c);
            }
          });
        });
      });
    });
    return {dx,
            ctx->needs_input_grad(1) ? sums.gx : torch::Tensor(),
            ctx->needs_input_grad(2) ? sums.g : torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor batch_norm_train(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& running_mean, const torch::Tensor& running_var,
                               double momentum, double eps, bool relu, Layout layout) {
  return BatchNormTrainFn::apply(x, weight, bias, RunningStats{running_mean, running_var}, momentum, eps, relu,
                                 layout == Layout::kBlocked16);
}

torch::Tensor batch_norm_relu_max_pool2x2(const torch::Tensor& x, const torch::Tensor& weight,
                                          const torch::Tensor& bias, const torch::Tensor& running_mean,
                                          const torch::Tensor& running_var, double momentum, double eps, Layout layout) {
  return BatchNormReluPoolFn::apply(x, weight, bias, RunningStats{running_mean, running_var}, momentum, eps,
                                    layout == Layout::kBlocked16);
}

}  // namespace selfsup::nets::cpu
