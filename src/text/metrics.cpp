#include "selfsup/text/metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace selfsup::text {

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double mean = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) r[order[k]] = mean;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  TORCH_CHECK(x.size() == y.size() && x.size() >= 2, "spearman: expected two lists of one length >= 2, got ", x.size(),
              " and ", y.size());
  const auto rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n, my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  TORCH_CHECK(sxx > 0 && syy > 0, "spearman: an input is constant, the correlation is undefined");
  return sxy / std::sqrt(sxx * syy);
}

Retrieval retrieval(const torch::Tensor& similarity, const torch::Tensor& gold) {
  TORCH_CHECK(similarity.dim() == 2 && similarity.size(0) >= 1, "retrieval: similarity must be [Q, C], got ",
              similarity.sizes());
  TORCH_CHECK(gold.dim() == 1 && gold.size(0) == similarity.size(0), "retrieval: expected ", similarity.size(0),
              " gold indices, got ", gold.sizes());
  const auto g = gold.to(similarity.device(), torch::kLong);
  TORCH_CHECK(g.min().item<int64_t>() >= 0 && g.max().item<int64_t>() < similarity.size(1),
              "retrieval: gold indices must be in [0, ", similarity.size(1), ")");
  const auto s = similarity.to(torch::kFloat64);
  const auto right = s.gather(1, g.unsqueeze(1));
  const auto rank = s.gt(right).sum(1).to(torch::kFloat64) + 1;
  return {(1 / rank).mean().item<double>(), rank.eq(1).to(torch::kFloat64).mean().item<double>()};
}

}  // namespace selfsup::text
