#include "selfsup/eval/propagate.h"

#include "selfsup/core/progress.h"
#include "selfsup/train/hooks.h"

namespace selfsup::eval {

namespace F = torch::nn::functional;

KnnGraph knn_graph(const torch::Tensor& features, const KnnGraphOptions& o) {
  TORCH_CHECK(features.dim() == 2, "knn_graph: features must be [N,D], got ", features.sizes());
  const int64_t n = features.size(0);
  TORCH_CHECK(o.k() > 0 && o.k() < n, "knn_graph: k must be in [1, N-1] = [1, ", n - 1, "], got ", o.k());
  TORCH_CHECK(o.gamma() > 0, "knn_graph: gamma must be positive, got ", o.gamma());
  TORCH_CHECK(o.chunk() > 0, "knn_graph: chunk must be positive, got ", o.chunk());
  torch::NoGradGuard no_grad;
  auto z = F::normalize(features.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
  std::vector<torch::Tensor> index, weight;
  Progress progress("kNN graph of " + std::to_string(n) + " images", n);
  for (int64_t start = 0; start < n; start += o.chunk()) {
    train::throw_if_stop_requested("the evaluation");
    const int64_t rows = std::min(o.chunk(), n - start);
    progress.advance(rows);
    auto sim = torch::mm(z.slice(0, start, start + rows), z.t());
    // A node is not its own neighbour (nor is its duplicate's slot taken by it).
    auto self = torch::arange(rows, torch::TensorOptions().dtype(torch::kLong).device(sim.device()));
    sim.index_put_({self, self + start}, -2.0);
    auto top = sim.topk(o.k(), 1);
    index.push_back(std::get<1>(top));
    weight.push_back(std::get<0>(top).clamp_min(0).pow(o.gamma()));
  }
  return {torch::cat(index), torch::cat(weight)};
}

namespace {

/// (W + W^T) x for the graph's sparse W, without building it: row i gathers from its neighbours,
/// and every edge i -> j also scatters x_i into row j.
torch::Tensor symmetric_product(const KnnGraph& g, const torch::Tensor& x) {
  const int64_t n = g.index.size(0), k = g.index.size(1);
  auto flat = g.index.reshape(-1);
  auto w = g.weight.unsqueeze(-1);
  auto gathered = (w * x.index_select(0, flat).view({n, k, -1})).sum(1);
  auto scattered = torch::zeros_like(x).index_add_(0, flat, (w * x.unsqueeze(1)).reshape({n * k, -1}));
  return gathered + scattered;
}

}  // namespace

torch::Tensor label_propagation(const KnnGraph& graph, const torch::Tensor& seed_index,
                                const torch::Tensor& seed_labels, int64_t num_classes, const PropagateOptions& o) {
  TORCH_CHECK(graph.index.dim() == 2 && graph.weight.sizes() == graph.index.sizes(),
              "label_propagation: the graph's index and weight must be [N,k] alike, got ", graph.index.sizes(),
              " and ", graph.weight.sizes());
  TORCH_CHECK(num_classes > 0, "label_propagation: num_classes must be positive, got ", num_classes);
  TORCH_CHECK(seed_index.dim() == 1 && seed_labels.dim() == 1 && seed_index.numel() == seed_labels.numel() &&
                  seed_index.numel() > 0,
              "label_propagation: seed_index and seed_labels must be non-empty [S] vectors of one length, got ",
              seed_index.sizes(), " and ", seed_labels.sizes());
  TORCH_CHECK(o.alpha() > 0 && o.alpha() < 1, "label_propagation: alpha must be in (0, 1), got ", o.alpha());
  TORCH_CHECK(o.iterations() > 0, "label_propagation: iterations must be positive, got ", o.iterations());
  const int64_t n = graph.index.size(0);
  auto idx = seed_index.to(graph.index.device(), torch::kLong);
  auto lab = seed_labels.to(graph.index.device(), torch::kLong);
  TORCH_CHECK(idx.min().item<int64_t>() >= 0 && idx.max().item<int64_t>() < n,
              "label_propagation: seed indices must lie in [0, ", n, ")");
  TORCH_CHECK(lab.min().item<int64_t>() >= 0 && lab.max().item<int64_t>() < num_classes,
              "label_propagation: seed labels must lie in [0, ", num_classes, ")");
  torch::NoGradGuard no_grad;
  auto ones = torch::ones({n, 1}, graph.weight.options());
  // Degrees of W + W^T; a node whose every similarity is <= 0 has none and stays at its seed value.
  auto inv_sqrt_deg = symmetric_product(graph, ones).squeeze(1);
  inv_sqrt_deg = torch::where(inv_sqrt_deg > 0, inv_sqrt_deg.rsqrt(), torch::zeros_like(inv_sqrt_deg)).unsqueeze(1);
  auto y = torch::zeros({n, num_classes}, graph.weight.options());
  y.index_put_({idx, lab}, 1.0);
  auto z = y.clone();
  Progress progress("label propagation", o.iterations());
  for (int64_t it = 0; it < o.iterations(); ++it) {
    train::throw_if_stop_requested("the evaluation");
    z = o.alpha() * inv_sqrt_deg * symmetric_product(graph, inv_sqrt_deg * z) + (1 - o.alpha()) * y;
    progress.advance();
  }
  auto mass = z.sum(0, true);
  return z / torch::where(mass > 0, mass, torch::ones_like(mass));
}

torch::Tensor label_propagation(const torch::Tensor& features, const torch::Tensor& seed_index,
                                const torch::Tensor& seed_labels, int64_t num_classes, const KnnGraphOptions& graph,
                                const PropagateOptions& o) {
  TORCH_CHECK(features.dim() == 2, "label_propagation: features must be [N,D], got ", features.sizes());
  return label_propagation(knn_graph(features, graph), seed_index, seed_labels, num_classes, o);
}

}  // namespace selfsup::eval
