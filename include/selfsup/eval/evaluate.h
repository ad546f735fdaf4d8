#pragma once
// How good is a representation: weighted kNN, linear probe on frozen features, and fine-tuning
// with k labels per class. Model selection uses a validation split carved from the training set;
// the test set is only ever scored.
#include <torch/torch.h>

#include <functional>

#include "selfsup/train/loader.h"

namespace selfsup::eval {

/// Encodes uint8 images [N,C,H,W] in eval mode, in batches, without gradients. `encode` maps a
/// normalised float batch to features.
torch::Tensor extract_features(const std::function<torch::Tensor(const torch::Tensor&)>& encode,
                               const torch::Tensor& images_u8, const train::Normalization& norm,
                               torch::Device device, int64_t batch_size = 1024);

struct KnnOptions {
  TORCH_ARG(int64_t, k) = 200;
  TORCH_ARG(double, temperature) = 0.1;
  TORCH_ARG(int64_t, chunk) = 1024;  // test rows scored at once
};

/// Weighted kNN (Wu et al. 2018, InstDisc): cosine similarity to every training feature, the top k
/// neighbours each vote exp(sim / T) for their class. Returns predicted labels [M].
torch::Tensor knn_predict(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                          const torch::Tensor& query_features, int64_t num_classes, const KnnOptions& options = {});

double accuracy(const torch::Tensor& predicted, const torch::Tensor& labels);

/// Counts [num_classes, num_classes] (int64, CPU): row = true class, column = prediction, as USB
/// logs it. Labels and predictions outside [0, num_classes) are refused.
torch::Tensor confusion_matrix(const torch::Tensor& predicted, const torch::Tensor& labels, int64_t num_classes);

/// Accuracy within each true class [num_classes] (float64; 0 for a class with no sample): the
/// confusion matrix's diagonal over its row sums. The overall figure hides which classes a
/// few-label run gives up on (Fashion-MNIST's shirts).
torch::Tensor per_class_accuracy(const torch::Tensor& predicted, const torch::Tensor& labels, int64_t num_classes);

struct LinearProbeOptions {
  TORCH_ARG(std::vector<double>, l2_grid) = std::vector<double>({1e-5, 1e-4, 1e-3});
  TORCH_ARG(int64_t, max_iter) = 200;
  TORCH_ARG(double, val_fraction) = 0.1;
  TORCH_ARG(uint64_t, seed) = 0;
};

struct LinearProbeResult {
  double test_accuracy = 0;
  double val_accuracy = 0;  // of the chosen L2 strength
  double l2 = 0;            // chosen on the validation split
  double train_accuracy = 0;
};

/// Multinomial logistic regression on frozen, standardised features, fitted to convergence with
/// L-BFGS. The L2 strength is picked on a stratified validation split of the training features;
/// the chosen model is then refitted on all training features and scored once on the test set.
LinearProbeResult linear_probe(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                               const torch::Tensor& test_features, const torch::Tensor& test_labels,
                               int64_t num_classes, const LinearProbeOptions& options = {});

/// A linear classifier on raw features: logits = x weight^T + bias.
struct LinearHead {
  torch::Tensor weight;  // [num_classes, D]
  torch::Tensor bias;    // [num_classes]
  double l2 = 0;            // chosen on the validation rows
  double val_accuracy = 0;  // of that choice
};

/// The head's logits x weight^T + bias of features x [N, D] (cast to the head's dtype).
torch::Tensor linear_logits(const LinearHead& head, const torch::Tensor& x);

/// The linear probe's fit (standardised features, L-BFGS, one fit per L2 strength of
/// options.l2_grid) with the L2 chosen on the caller's own validation rows, returned with the
/// standardisation folded into the weights so that it drops into a torch::nn::Linear. The result
/// is on the device of `train_x`.
LinearHead fit_linear_head(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& val_x,
                           const torch::Tensor& val_y, int64_t num_classes, const LinearProbeOptions& options = {});

}  // namespace selfsup::eval
