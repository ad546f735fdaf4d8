#include "selfsup/eval/embedding_map.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace selfsup::eval {

torch::Tensor pca(const torch::Tensor& x, int64_t dims) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 2, "pca: x must be [N, D] with N >= 2, got ", x.sizes());
  TORCH_CHECK(dims >= 1 && dims <= x.size(1), "pca: dims must be in [1, ", x.size(1), "], got ", dims);
  const auto xc = x.to(torch::kCPU, torch::kFloat64) - x.to(torch::kCPU, torch::kFloat64).mean(0, true);
  const auto svd = torch::linalg::svd(xc, /*full_matrices=*/false, /*driver=*/c10::nullopt);
  const auto v = std::get<2>(svd).narrow(0, 0, dims).t();  // [D, dims]
  auto z = xc.mm(v);
  // The sign of a singular vector is arbitrary: fix it by the largest coordinate.
  const auto idx = z.abs().argmax(0);
  const auto negative = (z.gather(0, idx.unsqueeze(0)) < 0).to(torch::kFloat64);
  return z * (1 - 2 * negative);
}

torch::Tensor tsne_affinities(const torch::Tensor& x, double perplexity) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 2, "tsne_affinities: x must be [N, D] with N >= 2, got ", x.sizes());
  const int64_t n = x.size(0);
  TORCH_CHECK(perplexity >= 1 && perplexity <= n - 1, "tsne_affinities: perplexity must be in [1, N - 1 = ", n - 1,
              "], got ", perplexity);
  const auto xd = x.to(torch::kCPU, torch::kFloat64);
  auto d = torch::cdist(xd, xd).square_();
  const auto eye = torch::eye(n, d.options().dtype(torch::kBool));
  // Shift each row by its smallest off-diagonal distance: the normalised distribution and its
  // entropy are unchanged, and the nearest neighbour's weight can never underflow.
  d.masked_fill_(eye, std::numeric_limits<double>::infinity());
  d.sub_(std::get<0>(d.min(1, true)));
  const double target = std::log(perplexity);
  const auto finite_mean = d.masked_fill(eye, 0).sum() / (n * (n - 1));
  auto beta = torch::full({n, 1}, 1.0 / std::max(finite_mean.item<double>(), 1e-12), d.options());
  auto lo = torch::zeros_like(beta);
  auto hi = torch::full_like(beta, std::numeric_limits<double>::infinity());
  torch::Tensor p;
  for (int it = 0; it < 200; ++it) {
    p = torch::exp(-d * beta);  // the diagonal is exp(-inf) = 0
    const auto sum = p.sum(1, true);
    const auto entropy = sum.log() + beta * (d.masked_fill(eye, 0) * p).sum(1, true) / sum;
    const auto diff = entropy - target;
    if (diff.abs().max().item<double>() < 1e-6) break;
    // Entropy too high: the Gaussian is too wide, raise its precision.
    const auto up = diff > 0;
    lo = torch::where(up, beta, lo);
    hi = torch::where(up, hi, beta);
    beta = torch::where(up, torch::where(hi.isinf(), beta * 2, (beta + hi) / 2), (beta + lo) / 2);
  }
  p = p / p.sum(1, true);
  return (p + p.t()) / (2.0 * n);
}

torch::Tensor tsne_kl(const torch::Tensor& p, const torch::Tensor& y) {
  const int64_t n = y.size(0);
  auto w = 1.0 / (1.0 + torch::cdist(y, y).square());
  w = w * (1 - torch::eye(n, w.options()));
  const auto q = w / w.sum();
  const auto off = p > 0;
  return (p.masked_select(off) * (p.masked_select(off).log() - q.masked_select(off).log())).sum();
}

namespace {
/// One pass over the pairs: with W_ij = 1 / (1 + |y_i - y_j|^2) and Z = sum W, the gradient is
/// 4 (sum_j e p_ij W_ij (y_i - y_j) - sum_j W_ij^2 (y_i - y_j) / Z), e the exaggeration; Z is
/// only known after the pass, so both sums are kept per row.
torch::Tensor gradient_pass(const torch::Tensor& p, const torch::Tensor& y, double exaggeration) {
  const int64_t n = y.size(0);
  const auto pc = p.contiguous();
  const auto yc = y.contiguous();
  const double* pp = pc.data_ptr<double>();
  const double* yp = yc.data_ptr<double>();
  auto parts = torch::zeros({n, 5}, y.options());  // attractive x, y; repulsive x, y; row sum of W
  double* out = parts.data_ptr<double>();
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double yi0 = yp[2 * i], yi1 = yp[2 * i + 1];
      const double* prow = pp + i * n;
      double a0 = 0, a1 = 0, r0 = 0, r1 = 0, z = 0;
      // j == i is not skipped, so that the loop vectorises: there y_i - y_j = 0 adds nothing to
      // either sum, and W_ii = 1 is taken off z afterwards.
#pragma omp simd reduction(+ : a0, a1, r0, r1, z)
      for (int64_t j = 0; j < n; ++j) {
        const double d0 = yi0 - yp[2 * j], d1 = yi1 - yp[2 * j + 1];
        const double w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
        const double pw = prow[j] * w, ww = w * w;
        a0 += pw * d0;
        a1 += pw * d1;
        r0 += ww * d0;
        r1 += ww * d1;
        z += w;
      }
      double* o = out + 5 * i;
      o[0] = a0, o[1] = a1, o[2] = r0, o[3] = r1, o[4] = z - 1.0;
    }
  });
  const double z = parts.select(1, 4).sum().item<double>();
  return 4.0 * (exaggeration * parts.narrow(1, 0, 2) - parts.narrow(1, 2, 2) / z);
}
}  // namespace

torch::Tensor tsne_gradient(const torch::Tensor& p, const torch::Tensor& y) {
  TORCH_CHECK(y.dim() == 2 && y.size(1) == 2, "tsne_gradient: y must be [N, 2], got ", y.sizes());
  TORCH_CHECK(p.dim() == 2 && p.size(0) == y.size(0) && p.size(1) == y.size(0), "tsne_gradient: p must be [N, N] = [",
              y.size(0), ", ", y.size(0), "], got ", p.sizes());
  return gradient_pass(p.to(torch::kCPU, torch::kFloat64), y.to(torch::kCPU, torch::kFloat64), 1.0);
}

torch::Tensor tsne(const torch::Tensor& x, const TsneOptions& o, const std::function<void(int64_t)>& on_iteration) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 4, "tsne: x must be [N, D] with N >= 4, got ", x.sizes());
  const int64_t n = x.size(0);
  TORCH_CHECK(o.perplexity() >= 1 && o.perplexity() <= (n - 1) / 3.0, "tsne: perplexity must be in [1, (N - 1) / 3 = ",
              (n - 1) / 3.0, "] for N = ", n, " points, got ", o.perplexity());
  TORCH_CHECK(o.iterations() >= 1, "tsne: iterations must be >= 1, got ", o.iterations());
  TORCH_CHECK(o.exaggeration() >= 1, "tsne: exaggeration must be >= 1, got ", o.exaggeration());
  TORCH_CHECK(o.learning_rate() >= 0, "tsne: learning_rate must be >= 0, got ", o.learning_rate());
  auto xd = x.to(torch::kCPU, torch::kFloat64);
  TORCH_CHECK(torch::isfinite(xd).all().item<bool>(), "tsne: the features hold NaN or infinite values");
  const int64_t dims = std::min<int64_t>({o.pca_dims(), xd.size(1), n});
  const auto reduced = dims < xd.size(1) ? pca(xd, dims) : xd;
  const auto p = tsne_affinities(reduced, o.perplexity());

  // The leading components of the reduction are the initialisation's: no second decomposition.
  auto init = dims < xd.size(1) && dims >= 2 ? reduced.narrow(1, 0, 2) : pca(xd, std::min<int64_t>(2, xd.size(1)));
  if (init.size(1) < 2) init = torch::cat({init, torch::zeros_like(init)}, 1);
  const double sd = init.select(1, 0).std().item<double>();
  auto y = init * (1e-4 / (sd > 0 ? sd : 1.0));
  const double lr = o.learning_rate() > 0 ? o.learning_rate() : std::max(n / o.exaggeration(), 50.0);
  auto update = torch::zeros_like(y);
  auto gains = torch::ones_like(y);
  for (int64_t it = 0; it < o.iterations(); ++it) {
    const bool early = it < o.exaggeration_iterations();
    const auto grad = gradient_pass(p, y, early ? o.exaggeration() : 1.0);
    // The reference implementation's gains: grow where the gradient keeps pushing the same way
    // as the last update, shrink where it turned.
    gains = torch::where((grad > 0) != (update > 0), gains + 0.2, gains * 0.8).clamp_min_(0.01);
    update = (early ? 0.5 : 0.8) * update - lr * gains * grad;
    y = y + update;
    y = y - y.mean(0, true);
    if (on_iteration) on_iteration(it);
  }
  return y;
}

}  // namespace selfsup::eval
