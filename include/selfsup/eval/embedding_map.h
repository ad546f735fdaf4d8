#pragma once
// A 2-D map of a set of features, for a person to look at: PCA (fast, linear, keeps the large
// distances) and exact t-SNE (van der Maaten & Hinton 2008; keeps the neighbourhoods, which is
// what tells whether the classes separate). Exact t-SNE costs O(N^2) memory and time per
// iteration: meant for the few thousand points a picture holds, not a whole data set.
#include <torch/torch.h>

#include <functional>

namespace selfsup::eval {

/// The first `dims` principal components of `x` [N, D] (float64 [N, dims]): centred, projected on
/// the leading right singular vectors, each component's sign chosen so that its largest
/// coordinate is positive (the same features always give the same map).
torch::Tensor pca(const torch::Tensor& x, int64_t dims);

/// t-SNE's joint affinities P (float64 [N, N], symmetric, zero diagonal, summing to 1) of
/// the rows of `x`: per row a Gaussian over squared distances whose precision is found by
/// bisection so that the row's conditional distribution has perplexity `perplexity`
/// (entropy ln(perplexity)), then P = (P_cond + P_cond^T) / 2N.
torch::Tensor tsne_affinities(const torch::Tensor& x, double perplexity);

/// The gradient of KL(P || Q) with respect to the map `y` [N, 2] (both float64), Q the
/// Student-t (one degree of freedom) affinities of y:
/// dC/dy_i = 4 sum_j (p_ij - q_ij)(y_i - y_j) / (1 + |y_i - y_j|^2).
torch::Tensor tsne_gradient(const torch::Tensor& p, const torch::Tensor& y);

/// KL(P || Q) of the map `y`: what tsne_gradient differentiates.
torch::Tensor tsne_kl(const torch::Tensor& p, const torch::Tensor& y);

struct TsneOptions {
  TORCH_ARG(double, perplexity) = 30;
  TORCH_ARG(int64_t, iterations) = 750;
  /// P is multiplied by `exaggeration` for the first iterations, so clusters form before they settle.
  TORCH_ARG(int64_t, exaggeration_iterations) = 250;
  TORCH_ARG(double, exaggeration) = 12;
  /// 0: max(N / exaggeration, 50) (Belkina et al. 2019), which scales with the number of points.
  TORCH_ARG(double, learning_rate) = 0;
  /// Features are first reduced to this many principal components (fewer: no reduction).
  TORCH_ARG(int64_t, pca_dims) = 50;
};

/// The t-SNE map (float64 [N, 2]) of `x` [N, D]: PCA initialisation scaled to standard deviation
/// 1e-4 (deterministic, and it keeps the global layout), gradient descent with momentum 0.5 then
/// 0.8 and the per-coordinate gains of the reference implementation. Refuses fewer than 4
/// points, a perplexity outside [1, (N - 1) / 3] and non-finite features, naming the value.
/// `on_iteration` (if given) is called after each iteration with its number, for progress.
torch::Tensor tsne(const torch::Tensor& x, const TsneOptions& options = {},
                   const std::function<void(int64_t)>& on_iteration = {});

}  // namespace selfsup::eval
