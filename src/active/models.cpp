#include "selfsup/active/models.h"

#include "selfsup/core/runtime.h"
#include "selfsup/eval/evaluate.h"

namespace selfsup::active {

torch::Tensor mc_dropout_probabilities(const torch::Tensor& h, const torch::Tensor& weight, const torch::Tensor& bias,
                                       int64_t passes, double dropout, uint64_t seed) {
  TORCH_CHECK(passes >= 1, "MC dropout: passes must be positive, got ", passes);
  TORCH_CHECK(dropout >= 0 && dropout < 1, "MC dropout: the rate must be in [0, 1), got ", dropout);
  auto gen = make_generator(seed);
  std::vector<torch::Tensor> out;
  for (int64_t t = 0; t < passes; ++t) {
    const auto keep = torch::empty(h.sizes(), h.options()).bernoulli_(1 - dropout, gen) / (1 - dropout);
    out.push_back(torch::softmax(torch::addmm(bias, h * keep, weight.t()), 1));
  }
  return torch::stack(out);
}

LinearRoundModel::LinearRoundModel(torch::Tensor features, torch::Tensor test_features, torch::Tensor test_labels,
                                   const torch::Tensor& labeled, const torch::Tensor& labels, int64_t num_classes,
                                   double l2, int64_t max_iter)
    : features_(std::move(features)),
      test_features_(std::move(test_features)),
      test_labels_(std::move(test_labels)),
      num_classes_(num_classes) {
  TORCH_CHECK(labeled.numel() > 0 && labeled.numel() == labels.numel(), "linear round model: ", labeled.numel(),
              " labeled rows with ", labels.numel(), " labels");
  const auto x = features_.index_select(0, labeled), y = labels.to(torch::kLong);
  // One L2 strength: the "validation" rows are the training rows and choose nothing.
  const auto head = eval::fit_linear_head(x, y, x, y, num_classes,
                                          eval::LinearProbeOptions().l2_grid({l2}).max_iter(max_iter));
  weight_ = head.weight.to(torch::kCPU, torch::kFloat);
  bias_ = head.bias.to(torch::kCPU, torch::kFloat);
}

torch::Tensor LinearRoundModel::probabilities(const torch::Tensor& index) {
  return torch::softmax(torch::addmm(bias_, embedding(index), weight_.t()), 1);
}

torch::Tensor LinearRoundModel::embedding(const torch::Tensor& index) {
  return features_.index_select(0, index).to(torch::kCPU, torch::kFloat);
}

torch::Tensor LinearRoundModel::mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout,
                                                 uint64_t seed) {
  return mc_dropout_probabilities(embedding(index), weight_, bias_, passes, dropout, seed);
}

double LinearRoundModel::test_accuracy() {
  const auto logits = torch::addmm(bias_, test_features_.to(torch::kCPU, torch::kFloat), weight_.t());
  return eval::accuracy(logits.argmax(1), test_labels_);
}

FinetuneRoundModel::FinetuneRoundModel(const nets::Backbone& encoder, const data::Dataset& train, data::Dataset test,
                                       const torch::Tensor& labeled, const torch::Tensor& labels,
                                       const train::Normalization& norm, torch::Device device,
                                       const eval::FinetuneOptions& options)
    : train_(train), test_(std::move(test)), norm_(norm), device_(device), num_classes_(train.num_classes()) {
  auto set = train.subset(labeled);
  set.labels = labels.to(torch::kLong).clone();
  model_ = eval::finetune_classifier(encoder, set, norm, device, options);
}

torch::Tensor FinetuneRoundModel::logits(const torch::Tensor& h) {
  torch::NoGradGuard g;
  return model_.head(h.to(device_)).to(torch::kCPU, torch::kFloat);
}

const torch::Tensor& FinetuneRoundModel::train_embedding() {
  if (!embedding_.defined()) {
    embedding_ = eval::extract_features([&](const torch::Tensor& x) { return model_.net->forward(x); }, train_.images,
                                        norm_, device_)
                     .to(torch::kCPU, torch::kFloat);
  }
  return embedding_;
}

torch::Tensor FinetuneRoundModel::probabilities(const torch::Tensor& index) {
  return torch::softmax(logits(embedding(index)), 1);
}

torch::Tensor FinetuneRoundModel::embedding(const torch::Tensor& index) {
  return train_embedding().index_select(0, index);
}

torch::Tensor FinetuneRoundModel::mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout,
                                                   uint64_t seed) {
  torch::NoGradGuard g;
  return mc_dropout_probabilities(embedding(index), model_.head->weight.to(torch::kCPU, torch::kFloat),
                                  model_.head->bias.to(torch::kCPU, torch::kFloat), passes, dropout, seed);
}

double FinetuneRoundModel::test_accuracy() {
  const auto h = eval::extract_features([&](const torch::Tensor& x) { return model_.net->forward(x); }, test_.images,
                                        norm_, device_);
  return eval::accuracy(logits(h).argmax(1), test_.labels);
}

}  // namespace selfsup::active
