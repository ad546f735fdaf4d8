#include "active_semi.h"

#include "selfsup/core/runtime.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/methods/semi.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/transfer.h"

namespace selfsup::run::detail {
namespace {

class SemiRoundModel : public active::ScoredModel {
 public:
  SemiRoundModel(std::shared_ptr<methods::SemiMethodImpl> method, const Context& c)
      : method_(std::move(method)), c_(c) {}
  int64_t num_classes() const override { return c_.data.train.num_classes(); }
  torch::Tensor probabilities(const torch::Tensor& index) override {
    torch::NoGradGuard g;
    return torch::softmax(head(embedding(index)), 1);
  }
  torch::Tensor embedding(const torch::Tensor& index) override { return train_embedding().index_select(0, index); }
  torch::Tensor mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout, uint64_t seed) override {
    torch::NoGradGuard g;
    const auto& h = method_->ema->head;
    return active::mc_dropout_probabilities(embedding(index), h->weight.to(torch::kCPU, torch::kFloat),
                                            h->bias.to(torch::kCPU, torch::kFloat), passes, dropout, seed);
  }
  double test_accuracy() override {
    const auto logits = eval::extract_features([&](const torch::Tensor& x) { return method_->ema->forward(x); },
                                               c_.data.test.images, c_.norm, c_.device);
    return eval::accuracy(logits.argmax(1), c_.data.test.labels);
  }

 private:
  torch::Tensor head(const torch::Tensor& h) { return method_->ema->head->forward(h.to(c_.device)).to(torch::kCPU, torch::kFloat); }
  const torch::Tensor& train_embedding() {
    if (!embedding_.defined()) {
      auto& ema = method_->ema;
      embedding_ = eval::extract_features(
                       [&](const torch::Tensor& x) { return ema->hidden_features(ema->backbone->forward(x)); },
                       c_.data.train.images, c_.norm, c_.device)
                       .to(torch::kCPU, torch::kFloat);
    }
    return embedding_;
  }
  std::shared_ptr<methods::SemiMethodImpl> method_;
  Context c_;  // its own copy: tensors are shared, the caller's context may end first
  torch::Tensor embedding_;
};

}  // namespace

std::unique_ptr<active::ScoredModel> semi_round_model(const std::string& config_path, int64_t steps,
                                                      const std::string& init, const Context& c,
                                                      const torch::Tensor& labeled, const torch::Tensor& labels,
                                                      const torch::Tensor& unlabeled, uint64_t seed) {
  // The semi config gives the method, model, augmentation and optimizer; the loop gives the data,
  // the length and the seed. Its data and eval keys are `semi`'s, not read here.
  Config sc = Config::load(config_path);
  // The encoder decides the architecture: the pretrain run's model.* replace the semi config's,
  // but for the classifier's own hidden layer.
  const auto pre = Config::parse(train::peek_checkpoint(init).config_yaml, init);
  auto model = YAML::Clone(pre.node("model"));
  if (!model.IsDefined() || model.IsNull()) model = YAML::Node(YAML::NodeType::Map);
  if (sc.has("model.classifier_hidden_dim")) model["classifier_hidden_dim"] = sc.node("model.classifier_hidden_dim");
  sc.set("model", model);
  sc.set("train.max_steps", YAML::Node(steps));
  sc.set("seed", YAML::Node(seed));
  const auto& train_set = c.data.train;
  auto labeled_set = train_set.subset(labeled);
  labeled_set.labels = labels.to(torch::kLong).clone();
  const auto pool = train_set.subset(unlabeled);
  const methods::DataSpec spec{train_set.channels(), train_set.height(), train_set.num_classes(), pool.size(),
                               labeled_set.size(), seed};
  seed_everything(derive_seed(seed, "init"));
  auto method = methods::make_semi_method(sc, spec);
  method->to(c.device);
  train::init_from_pretrained(init, *method, spec);
  auto loader = two_stream_loader(sc, c, labeled_set, pool, method->unlabeled_views(), method->mu(), "loader");
  train::Trainer trainer(sc, method, *loader, train::TrainerOptions::from_config(sc).progress(false));
  trainer.fit();
  method->eval();
  return std::make_unique<SemiRoundModel>(method, c);
}

}  // namespace selfsup::run::detail
