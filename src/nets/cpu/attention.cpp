// cpu::self_attention (cpu_kernels.h says why).
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_kernels.h"
#include "kernel_util.h"

namespace selfsup::nets::cpu {

namespace {

// One (image, head) pair: its N query, key and value rows of hd values, `stride` apart in the
// fused projection (3D per token); its output and gradient rows `d` apart. Every inner loop runs
// over a contiguous row (hd values, or N keys through a transposed copy), so it vectorises; the
// row-by-row dot products a plain loop would take do not (a float sum may not be reordered).
template <typename T>
struct Head {
  const T* q;
  const T* k;
  const T* v;
  int64_t n, hd, stride, d;
};

// x^T of rows [n][hd] `stride` apart into t[hd][n].
template <typename T>
void transpose_rows(const T* __restrict__ x, int64_t n, int64_t hd, int64_t stride, T* __restrict__ t) {
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < hd; ++c) t[c * n + j] = x[j * stride + c];
  }
}

// y[0, len) += a * x[0, len)
template <typename T>
inline void axpy(T a, const T* __restrict__ x, T* __restrict__ y, int64_t len) {
  for (int64_t c = 0; c < len; ++c) y[c] += a * x[c];
}

// p = softmax(scale q k^T) row by row into p [n][n]; o = p v, the rows `d` apart.
template <typename T>
void forward_head(const Head<T>& h, T scale, T* __restrict__ p, T* __restrict__ o, T* __restrict__ kt) {
  const int64_t n = h.n, hd = h.hd;
  transpose_rows(h.k, n, hd, h.stride, kt);
  for (int64_t i = 0; i < n; ++i) {
    T* __restrict__ pi = p + i * n;
    const T* qi = h.q + i * h.stride;
    for (int64_t j = 0; j < n; ++j) pi[j] = T(0);
    for (int64_t c = 0; c < hd; ++c) axpy(qi[c], kt + c * n, pi, n);
    // The maximum of the scaled scores, NaN-propagating as torch's softmax is.
    T m = -std::numeric_limits<T>::infinity();
    bool nan = false;
    for (int64_t j = 0; j < n; ++j) {
      pi[j] *= scale;
      m = pi[j] > m ? pi[j] : m;
      nan |= pi[j] != pi[j];
    }
    if (nan) m = std::numeric_limits<T>::quiet_NaN();
    T sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      pi[j] = std::exp(pi[j] - m);
      sum += pi[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < n; ++j) pi[j] *= inv;
    T* __restrict__ oi = o + i * h.d;
    for (int64_t c = 0; c < hd; ++c) oi[c] = T(0);
    for (int64_t j = 0; j < n; ++j) axpy(pi[j], h.v + j * h.stride, oi, hd);
  }
}

// The gradients of q, k and v (rows `stride` apart in dq, dk, dv, which start zeroed) from the
// output's g (rows `d` apart), the saved probabilities p and output o:
//   dP = g v^T, dS = P * (dP - rowsum(g * o)), dq = scale dS k, dk = scale dS^T q, dv = P^T g.
template <typename T>
void backward_head(const Head<T>& h, T scale, const T* __restrict__ p, const T* __restrict__ o, const T* __restrict__ g,
                   T* __restrict__ dq, T* __restrict__ dk, T* __restrict__ dv, T* __restrict__ vt, T* __restrict__ ds) {
  const int64_t n = h.n, hd = h.hd;
  transpose_rows(h.v, n, hd, h.stride, vt);
  for (int64_t i = 0; i < n; ++i) {
    const T* pi = p + i * n;
    const T* gi = g + i * h.d;
    const T* oi = o + i * h.d;
    T* __restrict__ dsi = ds + i * n;
    for (int64_t j = 0; j < n; ++j) dsi[j] = T(0);
    for (int64_t c = 0; c < hd; ++c) axpy(gi[c], vt + c * n, dsi, n);  // dP row i
    T delta = 0;
    for (int64_t c = 0; c < hd; ++c) delta += gi[c] * oi[c];
    for (int64_t j = 0; j < n; ++j) dsi[j] = pi[j] * (dsi[j] - delta) * scale;
    for (int64_t j = 0; j < n; ++j) {
      axpy(pi[j], gi, dv + j * h.stride, hd);
      axpy(dsi[j], h.k + j * h.stride, dq + i * h.stride, hd);
      axpy(dsi[j], h.q + i * h.stride, dk + j * h.stride, hd);
    }
  }
}

struct SelfAttentionFn : torch::autograd::Function<SelfAttentionFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv, int64_t heads) {
    const int64_t b = qkv.size(0), n = qkv.size(1), d = qkv.size(2) / 3, hd = d / heads;
    auto out = torch::empty({b, n, d}, qkv.options());
    auto probs = torch::empty({b, heads, n, n}, qkv.options());
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "self_attention", [&] {
      const scalar_t* x = qkv.data_ptr<scalar_t>();
      scalar_t* po = out.data_ptr<scalar_t>();
      scalar_t* pp = probs.data_ptr<scalar_t>();
      const auto scale = static_cast<scalar_t>(1.0 / std::sqrt(static_cast<double>(hd)));
      at::parallel_for(0, b * heads, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> kt(static_cast<size_t>(hd * n));
        for (int64_t item = begin; item < end; ++item) {
          const int64_t bi = item / heads, hi = item % heads;
          const scalar_t* q = x + bi * n * 3 * d + hi * hd;
          const Head<scalar_t> h{q, q + d, q + 2 * d, n, hd, 3 * d, d};
          forward_head(h, scale, pp + item * n * n, po + bi * n * d + hi * hd, kt.data());
        }
      });
    });
    ctx->save_for_backward({qkv, out, probs});
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &qkv = saved[0], &out = saved[1], &probs = saved[2];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const int64_t b = qkv.size(0), n = qkv.size(1), d = qkv.size(2) / 3, hd = d / heads;
    const auto g = grads[0].contiguous();
    auto dqkv = torch::zeros_like(qkv);
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "self_attention_backward", [&] {
      const scalar_t* x = qkv.data_ptr<scalar_t>();
      const scalar_t* po = out.data_ptr<scalar_t>();
      const scalar_t* pp = probs.data_ptr<scalar_t>();
      const scalar_t* pg = g.data_ptr<scalar_t>();
      scalar_t* dx = dqkv.data_ptr<scalar_t>();
      const auto scale = static_cast<scalar_t>(1.0 / std::sqrt(static_cast<double>(hd)));
      at::parallel_for(0, b * heads, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> vt(static_cast<size_t>(hd * n)), ds(static_cast<size_t>(n * n));
        for (int64_t item = begin; item < end; ++item) {
          const int64_t bi = item / heads, hi = item % heads;
          const int64_t in = bi * n * 3 * d + hi * hd, on = bi * n * d + hi * hd;
          const Head<scalar_t> h{x + in, x + in + d, x + in + 2 * d, n, hd, 3 * d, d};
          // Each (image, head) writes only its own columns of dqkv: the items run in parallel.
          backward_head(h, scale, pp + item * n * n, po + on, pg + on, dx + in, dx + in + d, dx + in + 2 * d,
                        vt.data(), ds.data());
        }
      });
    });
    return {dqkv, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor self_attention(const torch::Tensor& qkv, int64_t heads) { return SelfAttentionFn::apply(qkv, heads); }

}  // namespace selfsup::nets::cpu
