#pragma once
// Fine-tuning with k labels per class: the pretrained encoder and a fresh linear head are
// trained together on a stratified labeled subset with weak augmentation, and the last model is
// scored on the test set (no selection on test data).
#include <torch/torch.h>

#include "selfsup/data/dataset.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/train/loader.h"

namespace selfsup::eval {

struct FinetuneOptions {
  TORCH_ARG(int64_t, labels_per_class) = 10;
  TORCH_ARG(int64_t, steps) = 500;
  TORCH_ARG(int64_t, batch_size) = 64;
  TORCH_ARG(double, lr) = 0.01;            // encoder; the head gets 10x
  TORCH_ARG(double, weight_decay) = 5e-4;
  TORCH_ARG(uint64_t, seed) = 0;
};

struct FinetuneResult {
  double test_accuracy = 0;
  int64_t labeled = 0;
};

/// A fine-tuned network: the encoder's copy and its linear head, in eval mode.
struct FinetunedClassifier {
  nets::Backbone net;
  torch::nn::Linear head{nullptr};
};

/// Fine-tunes a deep copy of `encoder` (the original is untouched) with a fresh linear head on
/// every image of `labeled` (options.labels_per_class is not used), with the steps, batch, lr
/// and weight decay of `options` and draws from options.seed.
FinetunedClassifier finetune_classifier(const nets::Backbone& encoder, const data::Dataset& labeled,
                                        const train::Normalization& norm, torch::Device device,
                                        const FinetuneOptions& options);

/// Fine-tunes a deep copy of `encoder` (the original is untouched).
FinetuneResult finetune(const nets::Backbone& encoder, const data::Dataset& train, const data::Dataset& test,
                        const train::Normalization& norm, torch::Device device, const FinetuneOptions& options);

}  // namespace selfsup::eval
