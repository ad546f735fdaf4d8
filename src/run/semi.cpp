#include "selfsup/run/semi.h"

#include <filesystem>
#include <iostream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/methods/semi.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/trainer.h"

namespace selfsup::run {
namespace fs = std::filesystem;
namespace {

/// The view named `name` ("weak" or "strong"): augment.<name> when the config gives a pipeline,
/// else the preset of that name for these images.
augment::Pipeline view_pipeline(const Config& cfg, const std::string& name, int64_t size, int64_t channels) {
  YAML::Node node = cfg.node("augment." + name);
  if (node.IsDefined() && !node.IsNull()) return augment::Pipeline::from_yaml(node);
  return augment::preset(name, size, channels);
}

/// SimCLRv2's fine-tuning start: the first Linear and BatchNorm of the pretrained projector
/// become the classifier's hidden layer (names "0.*", "1.*" under the projector's "layers.").
void copy_projector_first_layer(torch::nn::Module& source, torch::nn::Sequential& hidden, const std::string& path) {
  auto params = source.named_parameters();
  auto buffers = source.named_buffers();
  std::string prefix;
  for (const char* candidate : {"projector.layers.", "online.projector.layers."}) {
    if (params.contains(std::string(candidate) + "0.weight")) {
      prefix = candidate;
      break;
    }
  }
  TORCH_CHECK(!prefix.empty(), "--init ", path,
              ": model.classifier_hidden_dim starts from the checkpoint's projector, and this checkpoint has none");
  const int64_t width = hidden->parameters().front().size(0);  // the Linear's weight [width, in]
  using Named = torch::OrderedDict<std::string, torch::Tensor>;
  auto copy = [&](const Named& from, const std::string& key, torch::Tensor& to) {
    const auto* t = from.find(prefix + key);
    TORCH_CHECK(t != nullptr && t->sizes() == to.sizes(), "--init ", path, ": the projector's first layer (",
                t == nullptr ? "no " + prefix + key : "'" + prefix + key + "' of shape " + c10::str(t->sizes()),
                ") does not match this classifier's hidden layer (model.classifier_hidden_dim ", width, ")");
    to.copy_(*t);
  };
  for (auto& kv : hidden->named_parameters()) copy(params, kv.key(), kv.value());
  for (auto& kv : hidden->named_buffers()) copy(buffers, kv.key(), kv.value());
}

torch::Tensor predict(methods::Classifier& model, const data::Dataset& d, const train::Normalization& norm,
                      torch::Device device) {
  return eval::extract_features([&](const torch::Tensor& x) { return model->forward(x); }, d.images, norm, device)
      .argmax(1);
}

/// The test confusion matrix as nested rows [true class][predicted class] for the JSON summary.
std::vector<std::vector<int64_t>> confusion(const torch::Tensor& predicted, const data::Dataset& d) {
  auto cells = eval::confusion_matrix(predicted, d.labels, d.num_classes()).contiguous();
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < cells.size(0); ++i) {
    const int64_t* row = cells[i].data_ptr<int64_t>();
    out.emplace_back(row, row + cells.size(1));
  }
  return out;
}

std::vector<double> class_accuracies(const torch::Tensor& predicted, const data::Dataset& d) {
  auto acc = eval::per_class_accuracy(predicted, d.labels, d.num_classes()).contiguous();
  return {acc.data_ptr<double>(), acc.data_ptr<double>() + acc.numel()};
}

}  // namespace

void init_from_pretrained(const std::string& path, methods::SemiMethodImpl& m, const methods::DataSpec& spec) {
  auto state = train::peek_checkpoint(path);
  auto pcfg = Config::parse(state.config_yaml, path);
  auto source = methods::make_method(pcfg, spec);
  train::load_checkpoint(path, *source, nullptr);
  torch::NoGradGuard no_grad;
  auto from = source->encoder();
  for (auto* target : {&m.student, &m.ema}) {
    auto params = (*target)->backbone->named_parameters();
    auto buffers = (*target)->backbone->named_buffers();
    for (const auto& kv : from->named_parameters()) {
      auto* t = params.find(kv.key());
      TORCH_CHECK(t != nullptr && t->sizes() == kv.value().sizes(), "--init ", path, ": its encoder (",
                  pcfg.get<std::string>("model.backbone", "convnet"), ") does not match this run's model.backbone at '",
                  kv.key(), "'");
      t->copy_(kv.value());
    }
    for (const auto& kv : from->named_buffers()) {
      if (auto* t = buffers.find(kv.key())) t->copy_(kv.value());
    }
    if ((*target)->hidden) copy_projector_first_layer(*source, (*target)->hidden, path);
  }
}

eval::LinearHead probe_head(methods::SemiMethodImpl& m, const data::Dataset& labeled, const data::Dataset& val,
                            const train::Normalization& norm, torch::Device device) {
  auto& c = m.student;
  const bool was_training = c->is_training();
  c->eval();
  auto features = [&](const torch::Tensor& images) {
    return eval::extract_features(
        [&](const torch::Tensor& x) {
          auto f = c->backbone->forward(x);
          return c->hidden ? c->hidden->forward(f) : f;
        },
        images, norm, device);
  };
  // The weak view flips images, so their mirror images are fair extra rows for so few labels.
  auto train_x = features(torch::cat({labeled.images, labeled.images.flip({3})}));
  auto train_y = torch::cat({labeled.labels, labeled.labels});
  auto head = eval::fit_linear_head(train_x, train_y, features(val.images), val.labels, c->head->weight.size(0),
                                    eval::LinearProbeOptions().l2_grid({1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0}));
  c->train(was_training);
  torch::NoGradGuard no_grad;
  for (auto* target : {&m.student, &m.ema}) {
    (*target)->head->weight.copy_(head.weight);
    (*target)->head->bias.copy_(head.bias);
  }
  return head;
}

nlohmann::json semi(Config cfg, const RunOptions& ro, const std::string& init) {
  TORCH_CHECK(!ro.out_dir.empty(), "semi needs an output folder (--out)");
  TORCH_CHECK(ro.time_limit >= 0, "--time-limit must be >= 0, got ", ro.time_limit);
  const auto ckpt = (fs::path(ro.out_dir) / "last.ckpt").string();
  if (ro.resume) cfg = Config::parse(train::peek_checkpoint(ckpt).config_yaml, ckpt);
  init_runtime(cfg.get<int>("train.threads", 0));
  const uint64_t seed = cfg.get<uint64_t>("seed", 0);
  const auto device = parse_device(cfg.get<std::string>("device", "cpu"));
  auto data = data::load_dataset(cfg);
  auto norm = train::Normalization::from_config(cfg, data.train.images);
  const int64_t per_class = cfg.get<int64_t>("data.labels_per_class", 10);
  const int64_t val_per_class = cfg.get<int64_t>("data.val_per_class", 100);
  TORCH_CHECK(per_class > 0, "data.labels_per_class must be positive, got ", per_class);
  TORCH_CHECK(val_per_class > 0, "data.val_per_class must be positive, got ", val_per_class);
  // The validation split comes first, so it never leaks into the labeled or unlabeled streams.
  auto tv = data::validation_split(data.train.labels, val_per_class, derive_seed(seed, "semi-val"));
  auto rest = data.train.subset(tv.train);
  auto val = data.train.subset(tv.val);
  auto ls = data::labeled_subset(rest.labels, per_class, derive_seed(seed, "semi-labeled"));
  auto labeled = rest.subset(ls.labeled), unlabeled = rest.subset(ls.unlabeled);

  const int64_t size = data.train.height(), channels = data.train.channels();
  methods::DataSpec spec{channels, size, data.train.num_classes(), unlabeled.size(), labeled.size()};
  seed_everything(derive_seed(seed, "init"));
  auto method = methods::make_semi_method(cfg, spec);
  method->to(device);
  const bool probe = cfg.get<bool>("train.probe_head", false);
  TORCH_CHECK(!probe || !init.empty() || ro.resume, "train.probe_head fits the head on a pretrained encoder's features: it needs --init");
  nlohmann::json probed;
  if (!init.empty() && !ro.resume) {
    init_from_pretrained(init, *method, spec);
    if (probe) {
      const auto h = probe_head(*method, labeled, val, norm, device);
      probed = {{"l2", h.l2}, {"val_acc", h.val_accuracy}};
    }
  }

  augment::ViewSet labeled_views, unlabeled_views;
  labeled_views.add("weak", view_pipeline(cfg, "weak", size, channels));
  const auto names = method->unlabeled_views();
  for (size_t i = 0; i < names.size(); ++i) {
    unlabeled_views.add(names[i] + std::to_string(i), view_pipeline(cfg, names[i], size, channels));
  }
  // Reading both keys marks them used whichever views the method takes.
  (void)view_pipeline(cfg, "strong", size, channels);
  // The supervised baseline reads no unlabeled images (mu 0): its steps cost only its own work,
  // so it is not handicapped under the same time limit.
  const int64_t config_mu = cfg.get<int64_t>("method.mu", 7);
  const int64_t mu = method->unlabeled_views().empty() ? 0 : config_mu;
  TORCH_CHECK(method->unlabeled_views().empty() || config_mu > 0,
              "method.mu (unlabeled images per labeled image) must be positive, got ", config_mu);
  train::SemiLoader loader(labeled, unlabeled, labeled_views.without_normalize(), unlabeled_views.without_normalize(),
                           norm,
                           train::SemiLoaderOptions()
                               .batch_size(cfg.get<int64_t>("train.batch_size", 64))
                               .mu(mu)
                               .seed(derive_seed(seed, "loader")),
                           device);
  auto topts = train::TrainerOptions::from_config(cfg).out_dir(ro.out_dir).time_limit(ro.time_limit)
                   .resume(ro.resume).progress(!ro.quiet);
  train::Trainer trainer(cfg, method, loader, topts);
  cfg.check_all_used();

  fs::create_directories(ro.out_dir);
  if (!ro.resume) {
    std::error_code ec;
    fs::remove(fs::path(ro.out_dir) / "metrics.jsonl", ec);
  }
  train::write_file_atomic((fs::path(ro.out_dir) / "config.yaml").string(), cfg.dump());
  if (ro.resume) TORCH_CHECK(fs::exists(ckpt), "--resume: no checkpoint at ", ckpt);

  auto result = trainer.fit();
  nlohmann::json s;
  s["method"] = cfg.get<std::string>("method.name", "");
  s["dataset"] = data.train.name;
  s["labels_per_class"] = per_class;
  s["labeled"] = labeled.size();
  s["unlabeled"] = unlabeled.size();
  s["validation"] = val.size();
  s["init"] = init;
  if (!probed.is_null()) s["probe_head"] = probed;
  s["steps"] = result.steps;
  s["total_steps"] = result.total_steps;
  // The loader counts epochs over the stream it has: the unlabeled one, or the labeled one (mu 0).
  s[mu > 0 ? "unlabeled_epochs" : "labeled_epochs"] = static_cast<double>(result.steps) / loader.steps_per_epoch();
  s["train_seconds"] = result.train_seconds;
  s["steps_per_second"] = result.train_seconds > 0 ? result.steps / result.train_seconds : 0.0;
  s["stopped_early"] = result.stopped_early;
  s["final_loss"] = result.last_loss;
  if (ro.evaluate && !train::stop_requested()) {
    method->eval();
    // Validation accuracy is what any model selection may use; the test figures are reported.
    s["val_acc"] = eval::accuracy(predict(method->student, val, norm, device), val.labels);
    const auto val_ema = predict(method->ema, val, norm, device);
    s["val_acc_ema"] = eval::accuracy(val_ema, val.labels);
    s["test_acc"] = eval::accuracy(predict(method->student, data.test, norm, device), data.test.labels);
    const auto test_ema = predict(method->ema, data.test, norm, device);
    s["test_acc_ema"] = eval::accuracy(test_ema, data.test.labels);
    // Which classes the EMA model gives up on: with 10 labels per class the total hides it.
    s["val_acc_ema_per_class"] = class_accuracies(val_ema, val);
    s["test_acc_ema_per_class"] = class_accuracies(test_ema, data.test);
    s["test_confusion_ema"] = confusion(test_ema, data.test);
    // How good the EMA model's pseudo-labels of the unlabeled set are (true labels: logged only).
    auto logits = eval::extract_features([&](const torch::Tensor& x) { return method->ema->forward(x); },
                                         unlabeled.images, norm, device);
    auto probs = torch::softmax(logits, 1);
    auto conf = std::get<0>(probs.max(1)), pred = std::get<1>(probs.max(1));
    const double tau = cfg.get<double>("method.threshold", 0.95);
    auto accepted = conf >= tau;
    const double n = accepted.sum().item<double>();
    s["unlabeled_threshold"] = tau;
    s["unlabeled_mask_rate"] = n / static_cast<double>(unlabeled.size());
    s["unlabeled_pseudo_label_acc"] = n > 0 ? pred.eq(unlabeled.labels).logical_and(accepted).sum().item<double>() / n : 0.0;
    s["unlabeled_acc"] = eval::accuracy(pred, unlabeled.labels);
    std::cerr << "test accuracy " << s["test_acc"] << " (EMA " << s["test_acc_ema"] << "), validation " << s["val_acc"]
              << " (EMA " << s["val_acc_ema"] << ")\n";
  }
  train::write_file_atomic((fs::path(ro.out_dir) / "summary.json").string(), s.dump(2) + "\n");
  return s;
}

}  // namespace selfsup::run
