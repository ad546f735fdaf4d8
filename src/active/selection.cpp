#include <algorithm>

#include "selfsup/active/strategy.h"

namespace selfsup::active {
namespace {

/// Squared Euclidean distances [A, B] (float32), clamped at 0 against rounding.
torch::Tensor sq_distances(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = a.pow(2).sum(1, true) + b.pow(2).sum(1).unsqueeze(0) - 2 * torch::mm(a, b.t());
  return d.clamp_min(0);
}

/// The nearest of `centers` for every row of `x`: (squared distance, index), in row chunks so
/// that a large pool never holds an N x k matrix at once.
std::pair<torch::Tensor, torch::Tensor> nearest(const torch::Tensor& x, const torch::Tensor& centers) {
  const int64_t n = x.size(0), chunk = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, centers.size(0)));
  auto dist = torch::empty({n}, x.options()), index = torch::empty({n}, x.options().dtype(torch::kLong));
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t e = std::min(n, s + chunk);
    const auto m = sq_distances(x.slice(0, s, e), centers).min(1);
    dist.slice(0, s, e).copy_(std::get<0>(m));
    index.slice(0, s, e).copy_(std::get<1>(m));
  }
  return {dist, index};
}

/// A row drawn with probability proportional to `weights` (>= 0); the first positive row when
/// the weights sum to nothing useful, -1 when every weight is 0.
int64_t draw(const torch::Tensor& weights, torch::Generator& gen) {
  const double total = weights.sum().item<double>();
  if (!(total > 0)) return -1;
  return torch::multinomial(weights.to(torch::kDouble), 1, false, gen).item<int64_t>();
}

}  // namespace

torch::Tensor top_k(const torch::Tensor& scores, int64_t k) {
  TORCH_CHECK(scores.dim() == 1, "top_k: scores must be 1-D, got ", scores.sizes());
  TORCH_CHECK(k >= 0 && k <= scores.size(0), "top_k: k must be in [0, ", scores.size(0), "], got ", k);
  const auto order = std::get<1>(torch::sort(scores.to(torch::kDouble), /*stable=*/true, /*dim=*/0, /*descending=*/true));
  return order.slice(0, 0, k).contiguous();
}

torch::Tensor uncertainty(const torch::Tensor& p, const std::string& kind) {
  TORCH_CHECK(p.dim() == 2 && p.size(1) >= 2, "uncertainty: probabilities must be [n, C] with C >= 2, got ", p.sizes());
  if (kind == "least_confidence") return 1 - std::get<0>(p.max(1));
  if (kind == "margin") {
    const auto top = std::get<0>(p.topk(2, 1));
    return -(top.select(1, 0) - top.select(1, 1));
  }
  if (kind == "entropy") return -(p * p.clamp_min(1e-12).log()).sum(1);
  TORCH_CHECK(false, "uncertainty: kind must be least_confidence, margin or entropy, got '", kind, "'");
}

torch::Tensor bald_scores(const torch::Tensor& mc) {
  TORCH_CHECK(mc.dim() == 3, "bald_scores: MC probabilities must be [passes, n, C], got ", mc.sizes());
  auto entropy = [](const torch::Tensor& p) { return -(p * p.clamp_min(1e-12).log()).sum(-1); };
  return entropy(mc.mean(0)) - entropy(mc).mean(0);
}

torch::Tensor k_center_greedy(const torch::Tensor& features, const torch::Tensor& centers,
                              const torch::Tensor& candidates, int64_t k, int64_t first) {
  const int64_t p = candidates.size(0);
  TORCH_CHECK(k >= 0 && k <= p, "k_center_greedy: k must be in [0, ", p, "], got ", k);
  const auto x = features.index_select(0, candidates).to(torch::kFloat);
  torch::Tensor mind;
  if (centers.numel() > 0) {
    mind = nearest(x, features.index_select(0, centers).to(torch::kFloat)).first;
  } else {
    mind = torch::full({p}, std::numeric_limits<float>::infinity(), x.options());
  }
  auto chosen = torch::empty({k}, torch::kLong);
  for (int64_t i = 0; i < k; ++i) {
    int64_t pick;
    if (i == 0 && centers.numel() == 0) {
      TORCH_CHECK(first >= 0 && first < p, "k_center_greedy: first must be in [0, ", p, "), got ", first);
      pick = first;
    } else {
      pick = mind.argmax().item<int64_t>();
    }
    chosen[i] = pick;
    mind = torch::minimum(mind, sq_distances(x, x.slice(0, pick, pick + 1)).squeeze(1));
    mind[pick] = -1.0;  // chosen: below every distance, never picked again
  }
  return chosen;
}

torch::Tensor factored_sq_distances(const torch::Tensor& u_a, const torch::Tensor& h_a, const torch::Tensor& u_b,
                                    const torch::Tensor& h_b) {
  TORCH_CHECK(u_a.dim() == 2 && h_a.dim() == 2 && u_a.size(0) == h_a.size(0), "factored_sq_distances: u_a ",
              u_a.sizes(), " and h_a ", h_a.sizes(), " must be [A, C] and [A, D]");
  TORCH_CHECK(u_b.dim() == 2 && h_b.dim() == 2 && u_b.size(0) == h_b.size(0) && u_b.size(1) == u_a.size(1) &&
                  h_b.size(1) == h_a.size(1),
              "factored_sq_distances: u_b ", u_b.sizes(), " and h_b ", h_b.sizes(), " must be [B, C] and [B, D]");
  const auto na = u_a.pow(2).sum(1) * h_a.pow(2).sum(1), nb = u_b.pow(2).sum(1) * h_b.pow(2).sum(1);
  return (na.unsqueeze(1) + nb.unsqueeze(0) - 2 * torch::mm(u_a, u_b.t()) * torch::mm(h_a, h_b.t())).clamp_min(0);
}

torch::Tensor kmeans_pp_factored(const torch::Tensor& u, const torch::Tensor& h, int64_t k, torch::Generator& gen) {
  const int64_t n = u.size(0);
  TORCH_CHECK(k >= 0 && k <= n, "kmeans_pp_factored: k must be in [0, ", n, "], got ", k);
  auto chosen = torch::empty({k}, torch::kLong);
  if (k == 0) return chosen;
  auto taken = torch::zeros({n}, torch::kBool);
  int64_t pick = (u.pow(2).sum(1) * h.pow(2).sum(1)).argmax().item<int64_t>();
  torch::Tensor mind;
  for (int64_t i = 0; i < k; ++i) {
    if (i > 0) {
      pick = draw(torch::where(taken, torch::zeros_like(mind), mind), gen);
      // Every remaining embedding equals a chosen one: take the first row not yet chosen.
      if (pick < 0) pick = taken.logical_not().nonzero().flatten()[0].item<int64_t>();
    }
    chosen[i] = pick;
    taken[pick] = true;
    const auto d = factored_sq_distances(u, h, u.slice(0, pick, pick + 1), h.slice(0, pick, pick + 1)).squeeze(1);
    mind = i == 0 ? d : torch::minimum(mind, d);
  }
  return chosen;
}

KMeansResult kmeans(const torch::Tensor& x_in, int64_t k, int64_t iterations, torch::Generator& gen) {
  const auto x = x_in.to(torch::kFloat).contiguous();
  const int64_t n = x.size(0);
  TORCH_CHECK(k >= 1 && k <= n, "kmeans: k must be in [1, ", n, "], got ", k);
  TORCH_CHECK(iterations >= 1, "kmeans: iterations must be positive, got ", iterations);
  // k-means++ seeding.
  std::vector<int64_t> seeds{torch::randint(n, {1}, gen, torch::kLong).item<int64_t>()};
  auto mind = sq_distances(x, x.slice(0, seeds[0], seeds[0] + 1)).squeeze(1);
  while (static_cast<int64_t>(seeds.size()) < k) {
    int64_t pick = draw(mind, gen);
    if (pick < 0) pick = static_cast<int64_t>(seeds.size());  // fewer distinct points than k
    seeds.push_back(pick);
    mind = torch::minimum(mind, sq_distances(x, x.slice(0, pick, pick + 1)).squeeze(1));
  }
  auto centers = x.index_select(0, torch::tensor(seeds, torch::kLong)).clone();
  torch::Tensor assign;
  for (int64_t it = 0; it < iterations; ++it) {
    auto [dist, a] = nearest(x, centers);
    if (assign.defined() && a.equal(assign)) break;
    assign = a;
    auto sums = torch::zeros_like(centers).index_add_(0, assign, x);
    auto counts = torch::zeros({k}, x.options()).index_add_(0, assign, torch::ones({n}, x.options()));
    auto empty = (counts == 0).nonzero().flatten();
    centers = sums / counts.clamp_min(1).unsqueeze(1);
    for (int64_t e = 0; e < empty.size(0); ++e) {
      const int64_t far = dist.argmax().item<int64_t>();
      centers[empty[e].item<int64_t>()].copy_(x[far]);
      dist[far] = -1;
    }
  }
  return {centers, nearest(x, centers).second};
}

torch::Tensor typicality(const torch::Tensor& x_in, int64_t k) {
  const auto x = x_in.to(torch::kFloat);
  const int64_t n = x.size(0);
  TORCH_CHECK(k >= 1, "typicality: k must be positive, got ", k);
  if (n <= 1) return torch::ones({n}, x.options());
  const int64_t kk = std::min(k, n - 1), chunk = std::max<int64_t>(1, (int64_t{1} << 24) / n);
  auto out = torch::empty({n}, x.options());
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t e = std::min(n, s + chunk);
    auto d = sq_distances(x.slice(0, s, e), x);
    // A row is never its own neighbour, even when another row equals it.
    d.index_put_({torch::arange(e - s), torch::arange(s, e)}, std::numeric_limits<float>::infinity());
    const auto nn = std::get<0>(d.topk(kk, 1, /*largest=*/false)).sqrt();
    out.slice(0, s, e).copy_(1.0 / (nn.mean(1) + 1e-12));
  }
  return out;
}

}  // namespace selfsup::active
