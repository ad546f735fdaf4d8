#pragma once
// How far a handful of labels carries over a representation: label propagation (Zhou et al. 2004,
// "Learning with Local and Global Consistency") on a kNN graph of the features, the transductive
// step of Iscen et al. 2019 ("Label Propagation for Deep Semi-supervised Learning").
//
// Why it is a protocol: a semi-supervised run from a pretrained encoder mixes two questions, how
// good the features are and how well the method uses them. Propagation answers the first with no
// training at all: on a graph where each image links to its k nearest neighbours, the labels
// spread to whatever cluster they sit in. If propagation from 100 labels and FixMatch from the
// same 100 labels end at the same accuracy, the method is not what holds the figure back.
#include <torch/torch.h>

namespace selfsup::eval {

/// Each node's k nearest other nodes by cosine similarity, with edge weights max(0, cos)^gamma
/// (Iscen et al.: gamma 3 sharpens the weights toward the closest neighbours).
struct KnnGraph {
  torch::Tensor index;   // [N, k] int64: neighbour j of node i is index[i][j] (never i itself)
  torch::Tensor weight;  // [N, k] float32
};

struct KnnGraphOptions {
  TORCH_ARG(int64_t, k) = 10;
  TORCH_ARG(double, gamma) = 3.0;
  TORCH_ARG(int64_t, chunk) = 1024;  // rows of the similarity matrix held at once
};

KnnGraph knn_graph(const torch::Tensor& features, const KnnGraphOptions& options = {});

struct PropagateOptions {
  /// Share of each step that comes from the neighbours rather than the seeds, in (0, 1).
  TORCH_ARG(double, alpha) = 0.99;
  TORCH_ARG(int64_t, iterations) = 50;
};

/// Spreads one-hot labels from the seed nodes over the symmetric graph W + W^T with the
/// normalised operator S = D^-1/2 (W + W^T) D^-1/2: Z <- alpha S Z + (1 - alpha) Y, `iterations`
/// times from Z = Y (the fixed point is (1 - alpha)(I - alpha S)^-1 Y). Each class's column is
/// then divided by its total mass (Zhou et al.'s class mass normalisation), so a class with more
/// seeds or a denser cluster does not swallow its neighbours. Returns those scores [N, C] (float32,
/// on the graph's device); argmax over a row is the node's label. One graph serves any number of
/// seed draws.
torch::Tensor label_propagation(const KnnGraph& graph, const torch::Tensor& seed_index,
                                const torch::Tensor& seed_labels, int64_t num_classes,
                                const PropagateOptions& options = {});

/// The same on the kNN graph of `features`.
torch::Tensor label_propagation(const torch::Tensor& features, const torch::Tensor& seed_index,
                                const torch::Tensor& seed_labels, int64_t num_classes,
                                const KnnGraphOptions& graph = {}, const PropagateOptions& options = {});

}  // namespace selfsup::eval
