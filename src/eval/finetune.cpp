#include "selfsup/eval/finetune.h"

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/train/optim.h"
#include "selfsup/train/hooks.h"

namespace selfsup::eval {

FinetunedClassifier finetune_classifier(const nets::Backbone& encoder, const data::Dataset& labeled,
                                        const train::Normalization& norm, torch::Device device, const FinetuneOptions& o) {
  TORCH_CHECK(o.steps() > 0, "finetune steps must be positive, got ", o.steps());
  TORCH_CHECK(o.lr() > 0, "finetune lr must be positive, got ", o.lr());
  TORCH_CHECK(o.batch_size() > 0, "finetune batch_size must be positive, got ", o.batch_size());
  TORCH_CHECK(labeled.size() > 0, "finetune: no labeled image");
  auto net = nets::clone_backbone(encoder);
  torch::nn::Linear head(net->feature_dim(), labeled.num_classes());
  net->to(device);
  head->to(device);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(net->parameters(), std::make_unique<torch::optim::SGDOptions>(
                                             torch::optim::SGDOptions(o.lr()).momentum(0.9).weight_decay(o.weight_decay())));
  groups.emplace_back(head->parameters(), std::make_unique<torch::optim::SGDOptions>(
                                              torch::optim::SGDOptions(10 * o.lr()).momentum(0.9).weight_decay(o.weight_decay())));
  torch::optim::SGD opt(groups, torch::optim::SGDOptions(o.lr()));
  const train::WarmupCosine sched{0, o.steps(), 1.0, 0.0};
  const std::vector<double> base_lr{o.lr(), 10 * o.lr()};

  // Normalisation is the data's (applied below), so the preset's own is switched off.
  auto weak = augment::preset(augment::PresetOptions("weak").image_size(labeled.height())
                                  .channels(labeled.channels()).normalize(false));
  const int64_t n = labeled.size(), bs = std::min(o.batch_size(), n);
  auto gen = make_generator(derive_seed(o.seed(), "finetune"));
  net->train();
  head->train();
  torch::Tensor order;
  int64_t pos = n;
  for (int64_t step = 0; step < o.steps(); ++step) {
    train::throw_if_stop_requested("the evaluation");
    if (pos + bs > n) {
      order = torch::randperm(n, gen, torch::kLong);
      pos = 0;
    }
    auto idx = order.slice(0, pos, pos + bs);
    pos += bs;
    torch::Tensor x;
    {
      torch::NoGradGuard g;
      x = norm.apply(weak(labeled.images.index_select(0, idx).to(device), gen));
    }
    auto y = labeled.labels.index_select(0, idx).to(device);
    for (size_t g = 0; g < opt.param_groups().size(); ++g)
      opt.param_groups()[g].options().set_lr(base_lr[g] * sched.factor(step));
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(head(net->forward(x)), y);
    loss.backward();
    opt.step();
  }
  net->eval();
  head->eval();
  return {net, head};
}

FinetuneResult finetune(const nets::Backbone& encoder, const data::Dataset& train_set, const data::Dataset& test,
                        const train::Normalization& norm, torch::Device device, const FinetuneOptions& o) {
  TORCH_CHECK(o.labels_per_class() > 0, "finetune labels_per_class must be positive, got ", o.labels_per_class());
  auto split = data::labeled_subset(train_set.labels, o.labels_per_class(), derive_seed(o.seed(), "finetune-split"));
  auto labeled = train_set.subset(split.labeled);
  auto f = finetune_classifier(encoder, labeled, norm, device, o);
  auto feats = extract_features([&](const torch::Tensor& x) { return f.net->forward(x); }, test.images, norm, device);
  auto pred = f.head(feats.to(device)).argmax(1);
  return {accuracy(pred, test.labels), labeled.size()};
}

}  // namespace selfsup::eval
