#include "selfsup/eval/protocols.h"

#include <chrono>
#include <cmath>
#include <iostream>

#include "selfsup/core/runtime.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/eval/propagate.h"

namespace selfsup::eval {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

EvalOptions EvalOptions::from_config(const Config& cfg) {
  EvalOptions o;
  o.protocols(cfg.get<std::vector<std::string>>("eval.protocols", o.protocols()));
  o.knn_k(cfg.get<int64_t>("eval.knn_k", o.knn_k()));
  o.knn_temperature(cfg.get<double>("eval.knn_temperature", o.knn_temperature()));
  o.linear_max_iter(cfg.get<int64_t>("eval.linear_max_iter", o.linear_max_iter()));
  o.finetune_labels_per_class(cfg.get<int64_t>("eval.finetune_labels_per_class", o.finetune_labels_per_class()));
  o.finetune_steps(cfg.get<int64_t>("eval.finetune_steps", o.finetune_steps()));
  o.propagate_labels_per_class(cfg.get<int64_t>("eval.propagate_labels_per_class", o.propagate_labels_per_class()));
  o.propagate_k(cfg.get<int64_t>("eval.propagate_k", o.propagate_k()));
  o.propagate_draws(cfg.get<int64_t>("eval.propagate_draws", o.propagate_draws()));
  o.split(cfg.get<std::string>("eval.split", o.split()));
  o.val_per_class(cfg.get<int64_t>("eval.val_per_class", o.val_per_class()));
  o.check();
  return o;
}

void EvalOptions::check() const {
  TORCH_CHECK(split() == "test" || split() == "val", "eval.split must be test or val, got '", split(), "'");
  TORCH_CHECK(val_per_class() > 0, "eval.val_per_class must be positive, got ", val_per_class());
  TORCH_CHECK(propagate_draws() > 0, "eval.propagate_draws must be positive, got ", propagate_draws());
  TORCH_CHECK(propagate_labels_per_class() > 0, "eval.propagate_labels_per_class must be positive, got ",
              propagate_labels_per_class());
  TORCH_CHECK(finetune_labels_per_class() > 0, "eval.finetune_labels_per_class must be positive, got ",
              finetune_labels_per_class());
  TORCH_CHECK(knn_k() > 0, "eval.knn_k must be positive, got ", knn_k());
  TORCH_CHECK(std::isfinite(knn_temperature()) && knn_temperature() > 0, "eval.knn_temperature must be positive, got ",
              knn_temperature());
  TORCH_CHECK(linear_max_iter() > 0, "eval.linear_max_iter must be positive, got ", linear_max_iter());
  TORCH_CHECK(finetune_steps() > 0, "eval.finetune_steps must be positive, got ", finetune_steps());
  TORCH_CHECK(propagate_k() > 0, "eval.propagate_k must be positive, got ", propagate_k());
  for (const auto& p : protocols()) {
    TORCH_CHECK(p == "knn" || p == "linear" || p == "finetune" || p == "propagate", "unknown evaluation protocol '", p,
                "' (expected knn, linear, finetune or propagate)");
  }
}

data::DataSplits scored_split(const data::DataSplits& data, const EvalOptions& o, uint64_t seed) {
  if (o.split() == "test") return data;
  auto split = data::validation_split(data.train.labels, o.val_per_class(), derive_seed(seed, "eval-val"));
  return {data.train.subset(split.train), data.train.subset(split.val)};
}

Spread spread(const std::vector<double>& values) {
  Spread s;
  if (values.empty()) return s;
  for (double v : values) s.mean += v / static_cast<double>(values.size());
  double var = 0;
  for (double v : values) var += (v - s.mean) * (v - s.mean) / static_cast<double>(std::max<size_t>(1, values.size() - 1));
  s.std = std::sqrt(var);
  return s;
}

nlohmann::json run_protocols(const Encode& encode, const data::DataSplits& scored, const train::Normalization& norm,
                             torch::Device device, const EvalOptions& o, uint64_t seed, const nets::Backbone& encoder) {
  nlohmann::json j;
  const auto t0 = Clock::now();
  const auto& train_set = scored.train;
  const auto& test_set = scored.test;
  j["eval_split"] = o.split();
  auto train_f = extract_features(encode, train_set.images, norm, device);
  auto test_f = extract_features(encode, test_set.images, norm, device);
  j["feature_dim"] = train_f.size(1);
  j["feature_seconds"] = seconds_since(t0);
  const int64_t classes = train_set.num_classes();
  for (const auto& p : o.protocols()) {
    const auto t = Clock::now();
    if (p == "knn") {
      auto pred = knn_predict(train_f, train_set.labels, test_f, classes,
                              KnnOptions().k(o.knn_k()).temperature(o.knn_temperature()));
      j["knn_acc"] = accuracy(pred, test_set.labels);
      std::cerr << "kNN (k=" << o.knn_k() << ", T=" << o.knn_temperature() << ") " << o.split()
                << " accuracy: " << j["knn_acc"] << "\n";
    } else if (p == "linear") {
      auto r = linear_probe(train_f, train_set.labels, test_f, test_set.labels, classes,
                            LinearProbeOptions().max_iter(o.linear_max_iter()).seed(derive_seed(seed, "probe")));
      j["linear_acc"] = r.test_accuracy;
      j["linear_val_acc"] = r.val_accuracy;
      j["linear_l2"] = r.l2;
      std::cerr << "linear probe " << o.split() << " accuracy: " << r.test_accuracy << " (L2 " << r.l2
                << " chosen on validation, val accuracy " << r.val_accuracy << ")\n";
    } else if (p == "finetune") {
      TORCH_CHECK(encoder, "the finetune protocol needs a trained encoder (not raw pixels)");
      auto r = finetune(encoder, train_set, test_set, norm, device,
                        FinetuneOptions()
                            .labels_per_class(o.finetune_labels_per_class())
                            .steps(o.finetune_steps())
                            .seed(derive_seed(seed, "finetune")));
      j["finetune_acc"] = r.test_accuracy;
      j["finetune_labels"] = r.labeled;
      std::cerr << "fine-tuning with " << r.labeled << " labels: " << o.split() << " accuracy " << r.test_accuracy
                << "\n";
    } else if (p == "propagate") {
      // Transductive: the graph spans the fitted and the scored images, the seeds come from the
      // fitted ones only, and the scored images' labels are only ever compared against. A few
      // label draws over one graph, because with 10 labels per class the draw alone moves the
      // figure by points.
      const auto graph = knn_graph(torch::cat({train_f, test_f}), KnnGraphOptions().k(o.propagate_k()));
      std::vector<double> accs;
      for (int64_t d = 0; d < o.propagate_draws(); ++d) {
        auto seeds = data::labeled_subset(train_set.labels, o.propagate_labels_per_class(),
                                          derive_seed(seed, "propagate-split-" + std::to_string(d)))
                         .labeled;
        auto scores = label_propagation(graph, seeds, train_set.labels.index_select(0, seeds), classes);
        accs.push_back(accuracy(scores.slice(0, train_f.size(0)).argmax(1), test_set.labels));
      }
      const auto s = spread(accs);
      j["propagate_acc"] = s.mean;
      j["propagate_acc_std"] = s.std;
      j["propagate_acc_draws"] = accs;
      j["propagate_labels"] = o.propagate_labels_per_class() * classes;
      j["propagate_k"] = o.propagate_k();
      std::cerr << "label propagation from " << o.propagate_labels_per_class() << " labels per class (k="
                << o.propagate_k() << ", " << accs.size() << " draws): " << o.split() << " accuracy " << s.mean
                << " +- " << s.std << "\n";
    }
    j[p + "_seconds"] = seconds_since(t);
  }
  return j;
}

}  // namespace selfsup::eval
