#pragma once
// The classifier an active learning round trains on the labels revealed so far, in the two forms
// `selfsup active` offers: a linear head on an encoder's frozen features (fast: a round takes
// seconds), or the whole network fine-tuned.
#include <torch/torch.h>

#include "selfsup/active/strategy.h"
#include "selfsup/data/dataset.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/train/loader.h"

namespace selfsup::active {

/// A round model that can also score held-out images.
class ScoredModel : public RoundModel {
 public:
  /// Accuracy on the held-out images (the frozen features of `test` or its images, as the
  /// model's kind needs).
  virtual double test_accuracy() = 0;
};

/// Multinomial logistic regression on frozen features (the linear probe's L-BFGS fit,
/// eval/evaluate.h) with a fixed L2 strength: there is no labeled validation set to choose one
/// from inside the label budget.
class LinearRoundModel : public ScoredModel {
 public:
  /// `features` [N, D] of the training images and `test_features` / `test_labels` of the held-out
  /// ones; fits on the rows `labeled` with the revealed `labels`.
  LinearRoundModel(torch::Tensor features, torch::Tensor test_features, torch::Tensor test_labels,
                   const torch::Tensor& labeled, const torch::Tensor& labels, int64_t num_classes, double l2,
                   int64_t max_iter);
  int64_t num_classes() const override { return num_classes_; }
  torch::Tensor probabilities(const torch::Tensor& index) override;
  torch::Tensor embedding(const torch::Tensor& index) override;
  torch::Tensor mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout, uint64_t seed) override;
  double test_accuracy() override;

 private:
  torch::Tensor features_, test_features_, test_labels_, weight_, bias_;
  int64_t num_classes_;
};

/// The encoder fine-tuned with a fresh linear head on the labeled images (eval/finetune.h), from
/// the pretrained weights every round. The representation of every training image is computed
/// once, on first use.
class FinetuneRoundModel : public ScoredModel {
 public:
  FinetuneRoundModel(const nets::Backbone& encoder, const data::Dataset& train, data::Dataset test,
                     const torch::Tensor& labeled, const torch::Tensor& labels, const train::Normalization& norm,
                     torch::Device device, const eval::FinetuneOptions& options);
  int64_t num_classes() const override { return num_classes_; }
  torch::Tensor probabilities(const torch::Tensor& index) override;
  torch::Tensor embedding(const torch::Tensor& index) override;
  torch::Tensor mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout, uint64_t seed) override;
  double test_accuracy() override;

 private:
  const torch::Tensor& train_embedding();
  torch::Tensor logits(const torch::Tensor& h);
  const data::Dataset& train_;
  data::Dataset test_;
  train::Normalization norm_;
  torch::Device device_;
  eval::FinetunedClassifier model_;
  torch::Tensor embedding_;  // [N, D] float32, CPU
  int64_t num_classes_;
};

/// [passes, n, C] softmax probabilities of a linear layer (weight [C, D], bias [C]) applied to
/// `h` [n, D] with inverted dropout at rate `dropout` on `h`, the masks drawn from `seed`.
torch::Tensor mc_dropout_probabilities(const torch::Tensor& h, const torch::Tensor& weight, const torch::Tensor& bias,
                                       int64_t passes, double dropout, uint64_t seed);

}  // namespace selfsup::active
