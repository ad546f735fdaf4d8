#include "selfsup/run/pretrain.h"

#include <chrono>
#include <cmath>
#include <thread>
#include <filesystem>
#include <iostream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/splits.h"
#include "selfsup/dist/dist.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/eval/propagate.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/trainer.h"

namespace selfsup::run {
namespace fs = std::filesystem;

EvalOptions EvalOptions::from_config(const Config& cfg) {
  EvalOptions o;
  o.protocols = cfg.get<std::vector<std::string>>("eval.protocols", o.protocols);
  o.knn_k = cfg.get<int64_t>("eval.knn_k", o.knn_k);
  o.knn_temperature = cfg.get<double>("eval.knn_temperature", o.knn_temperature);
  o.linear_max_iter = cfg.get<int64_t>("eval.linear_max_iter", o.linear_max_iter);
  o.finetune_labels_per_class = cfg.get<int64_t>("eval.finetune_labels_per_class", o.finetune_labels_per_class);
  o.finetune_steps = cfg.get<int64_t>("eval.finetune_steps", o.finetune_steps);
  o.propagate_labels_per_class = cfg.get<int64_t>("eval.propagate_labels_per_class", o.propagate_labels_per_class);
  o.propagate_k = cfg.get<int64_t>("eval.propagate_k", o.propagate_k);
  o.propagate_draws = cfg.get<int64_t>("eval.propagate_draws", o.propagate_draws);
  o.split = cfg.get<std::string>("eval.split", o.split);
  o.val_per_class = cfg.get<int64_t>("eval.val_per_class", o.val_per_class);
  TORCH_CHECK(o.split == "test" || o.split == "val", "eval.split must be test or val, got '", o.split, "'");
  TORCH_CHECK(o.val_per_class > 0, "eval.val_per_class must be positive, got ", o.val_per_class);
  TORCH_CHECK(o.propagate_draws > 0, "eval.propagate_draws must be positive, got ", o.propagate_draws);
  TORCH_CHECK(o.propagate_labels_per_class > 0, "eval.propagate_labels_per_class must be positive, got ",
              o.propagate_labels_per_class);
  for (const auto& p : o.protocols) {
    TORCH_CHECK(p == "knn" || p == "linear" || p == "finetune" || p == "propagate", "unknown evaluation protocol '", p,
                "' (expected knn, linear, finetune or propagate)");
  }
  return o;
}

namespace {

using Clock = std::chrono::steady_clock;

/// Everything a run builds from its config, in the order that keeps the seed meaningful.
struct Setup {
  data::DataSplits data;
  data::DataSplits scored;  // what the protocols fit on and score: train/test, or train-minus-val/val
  train::Normalization norm;
  methods::DataSpec spec;
  methods::Method method;
  torch::Device device{torch::kCPU};
  uint64_t seed = 0;
  int threads = 0;
};

/// With eval.split = val the protocols fit on the training set minus a stratified validation
/// split and score that split: the way to compare recipes without ever looking at the test set.
void choose_scored_split(Setup& s, const EvalOptions& o) {
  if (o.split == "test") {
    s.scored = s.data;
    return;
  }
  auto split = data::validation_split(s.data.train.labels, o.val_per_class, derive_seed(s.seed, "eval-val"));
  s.scored.train = s.data.train.subset(split.train);
  s.scored.test = s.data.train.subset(split.val);
}

Setup build(const Config& cfg) {
  Setup s;
  s.threads = cfg.get<int>("train.threads", 0);
  if (s.threads <= 0 && dist::local_world_size() > 1) {
    // Processes sharing a machine share its cores.
    s.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / dist::local_world_size());
  }
  init_runtime(s.threads);
  s.seed = cfg.get<uint64_t>("seed", 0);
  s.device = parse_device(cfg.get<std::string>("device", "cpu"));
  s.data = data::load_dataset(cfg);
  TORCH_CHECK(s.data.train.height() == s.data.train.width(), "square images expected, got ",
              s.data.train.height(), "x", s.data.train.width());
  s.norm = train::Normalization::from_config(cfg, s.data.train.images);
  s.spec = {s.data.train.channels(), s.data.train.height(), s.data.train.num_classes()};
  seed_everything(derive_seed(s.seed, "init"));
  s.method = methods::make_method(cfg, s.spec);
  s.method->to(s.device);
  return s;
}

nlohmann::json run_protocols(const std::function<torch::Tensor(const torch::Tensor&)>& encode, const Setup& s,
                             const EvalOptions& o, const nets::Backbone& encoder = nullptr) {
  nlohmann::json j;
  const auto t0 = Clock::now();
  const auto& train_set = s.scored.train;
  const auto& test_set = s.scored.test;
  j["eval_split"] = o.split;
  auto train_f = eval::extract_features(encode, train_set.images, s.norm, s.device);
  auto test_f = eval::extract_features(encode, test_set.images, s.norm, s.device);
  j["feature_dim"] = train_f.size(1);
  j["feature_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t classes = train_set.num_classes();
  for (const auto& p : o.protocols) {
    const auto t = Clock::now();
    if (p == "knn") {
      auto pred = eval::knn_predict(train_f, train_set.labels, test_f, classes,
                                    eval::KnnOptions().k(o.knn_k).temperature(o.knn_temperature));
      j["knn_acc"] = eval::accuracy(pred, test_set.labels);
      j["knn_seconds"] = std::chrono::duration<double>(Clock::now() - t).count();
      std::cerr << "kNN (k=" << o.knn_k << ", T=" << o.knn_temperature << ") test accuracy: " << j["knn_acc"] << "\n";
    } else if (p == "linear") {
      auto r = eval::linear_probe(train_f, train_set.labels, test_f, test_set.labels, classes,
                                  eval::LinearProbeOptions().max_iter(o.linear_max_iter).seed(derive_seed(s.seed, "probe")));
      j["linear_acc"] = r.test_accuracy;
      j["linear_val_acc"] = r.val_accuracy;
      j["linear_l2"] = r.l2;
      j["linear_seconds"] = std::chrono::duration<double>(Clock::now() - t).count();
      std::cerr << "linear probe test accuracy: " << r.test_accuracy << " (L2 " << r.l2
                << " chosen on validation, val accuracy " << r.val_accuracy << ")\n";
    } else if (p == "finetune") {
      TORCH_CHECK(encoder, "the finetune protocol needs a trained encoder (not raw pixels)");
      auto r = eval::finetune(encoder, train_set, test_set, s.norm, s.device,
                              eval::FinetuneOptions()
                                  .labels_per_class(o.finetune_labels_per_class)
                                  .steps(o.finetune_steps)
                                  .seed(derive_seed(s.seed, "finetune")));
      j["finetune_acc"] = r.test_accuracy;
      j["finetune_labels"] = r.labeled;
      j["finetune_seconds"] = std::chrono::duration<double>(Clock::now() - t).count();
      std::cerr << "fine-tuning with " << r.labeled << " labels: test accuracy " << r.test_accuracy << "\n";
    } else if (p == "propagate") {
      // Transductive: the graph spans the fitted and the scored images, the seeds come from the
      // fitted ones only, and the scored images' labels are only ever compared against. A few
      // label draws over one graph, because with 10 labels per class the draw alone moves the
      // figure by points.
      const auto graph = eval::knn_graph(torch::cat({train_f, test_f}), eval::KnnGraphOptions().k(o.propagate_k));
      std::vector<double> accs;
      for (int64_t d = 0; d < o.propagate_draws; ++d) {
        auto seeds = data::labeled_subset(train_set.labels, o.propagate_labels_per_class,
                                          derive_seed(s.seed, "propagate-split-" + std::to_string(d))).labeled;
        auto scores = eval::label_propagation(graph, seeds, train_set.labels.index_select(0, seeds), classes);
        accs.push_back(eval::accuracy(scores.slice(0, train_f.size(0)).argmax(1), test_set.labels));
      }
      double mean = 0, var = 0;
      for (double a : accs) mean += a / accs.size();
      for (double a : accs) var += (a - mean) * (a - mean) / std::max<size_t>(1, accs.size() - 1);
      j["propagate_acc"] = mean;
      j["propagate_acc_std"] = std::sqrt(var);
      j["propagate_acc_draws"] = accs;
      j["propagate_labels"] = o.propagate_labels_per_class * classes;
      j["propagate_k"] = o.propagate_k;
      j["propagate_seconds"] = std::chrono::duration<double>(Clock::now() - t).count();
      std::cerr << "label propagation from " << o.propagate_labels_per_class << " labels per class (k=" << o.propagate_k
                << ", " << accs.size() << " draws): test accuracy " << mean << " +- " << std::sqrt(var) << "\n";
    }
  }
  return j;
}

std::function<torch::Tensor(const torch::Tensor&)> encoder_fn(const methods::Method& m) {
  auto enc = m->encoder();
  return [enc](const torch::Tensor& x) { return enc->forward(x); };
}

}  // namespace

nlohmann::json pretrain(Config cfg, const RunOptions& ro) {
  TORCH_CHECK(!ro.out_dir.empty(), "pretrain needs an output folder (--out)");
  const auto ckpt = (fs::path(ro.out_dir) / "last.ckpt").string();
  if (ro.resume) {
    // The run continues with the config it started with, whatever was passed now.
    cfg = Config::parse(train::peek_checkpoint(ckpt).config_yaml, ckpt);
  }
  // Data parallelism when launched as one of several ranks (torchrun's variables, or --nproc).
  dist::init(dist::DistOptions::from_env().timeout_seconds(cfg.get<double>("dist.timeout_seconds", 120.0)));
  const bool sync_bn = cfg.get<bool>("dist.sync_batchnorm", true);
  Setup s = build(cfg);
  if (sync_bn) nets::set_sync_batchnorm(*s.method, true);
  auto views = train::views_from_config(cfg, s.spec.channels, s.spec.image_size, s.method->num_views());
  TORCH_CHECK(static_cast<int64_t>(views.size()) == s.method->num_views(), "method ", cfg.get<std::string>("method.name", ""), " needs ",
              s.method->num_views(), " views, the augment section gives ", views.size());
  // A background augmentation thread pays off only on a core the model's intra-op threads leave
  // free: where they use every core it preempts one of them and OpenMP's barriers wait for it
  // (2 cores, SimCLR bf16: 1377-1411 images/s without prefetch, 1096-1301 with).
  const bool spare_core = std::thread::hardware_concurrency() >
                          static_cast<unsigned>(at::get_num_threads() * dist::local_world_size());
  auto loader_opts = train::LoaderOptions()
                         .batch_size(cfg.get<int64_t>("train.batch_size", 256))
                         .seed(derive_seed(s.seed, "loader"))
                         .prefetch(cfg.get<bool>("train.prefetch", spare_core))
                         .rank(dist::rank())
                         .world_size(dist::world_size());
  train::ViewLoader loader(s.data.train, std::move(views), s.norm, loader_opts, s.device);
  auto topts = train::TrainerOptions::from_config(cfg).out_dir(ro.out_dir).time_limit(ro.time_limit)
                   .resume(ro.resume).progress(!ro.quiet);
  TORCH_CHECK(ro.time_limit >= 0, "--time-limit must be >= 0, got ", ro.time_limit);
  train::Trainer trainer(cfg, s.method, loader, topts);
  const auto eval_opts = EvalOptions::from_config(cfg);
  choose_scored_split(s, eval_opts);
  cfg.check_all_used();  // a misspelt key fails now, not after an hour of training

  fs::create_directories(ro.out_dir);
  if (!ro.resume && dist::is_main()) {
    std::error_code ec;
    fs::remove(fs::path(ro.out_dir) / "metrics.jsonl", ec);
  }
  if (dist::is_main()) train::write_file_atomic((fs::path(ro.out_dir) / "config.yaml").string(), cfg.dump());
  if (ro.resume) TORCH_CHECK(fs::exists(ckpt), "--resume: no checkpoint at ", ckpt);

  auto result = trainer.fit();
  nlohmann::json summary;
  summary["method"] = cfg.get<std::string>("method.name", "");
  summary["dataset"] = s.data.train.name;
  summary["steps"] = result.steps;
  summary["total_steps"] = result.total_steps;
  summary["epochs"] = static_cast<double>(result.steps) / loader.steps_per_epoch();
  summary["train_seconds"] = result.train_seconds;
  summary["images_per_second"] = result.images_per_second;
  summary["stopped_early"] = result.stopped_early;
  summary["final_loss"] = result.last_loss;
  summary["threads"] = at::get_num_threads();
  summary["processes"] = dist::world_size();
  if (!dist::is_main()) return summary;  // rank 0 alone evaluates and writes the summary
  if (ro.evaluate && !train::stop_requested()) {
    s.method->eval();
    summary.update(run_protocols(encoder_fn(s.method), s, eval_opts, s.method->encoder()));
  }
  train::write_file_atomic((fs::path(ro.out_dir) / "summary.json").string(), summary.dump(2) + "\n");
  return summary;
}

nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const EvalOptions& o, int threads,
                                   const std::string& summary_path) {
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
  if (!o.device.empty()) cfg.set("device", YAML::Node(o.device));
  Setup s = build(cfg);
  train::load_checkpoint(checkpoint, *s.method, nullptr);
  choose_scored_split(s, o);
  s.method->eval();
  auto j = run_protocols(encoder_fn(s.method), s, o, s.method->encoder());
  j["checkpoint"] = checkpoint;
  j["step"] = state.step;
  if (!summary_path.empty()) train::write_file_atomic(summary_path, j.dump(2) + "\n");
  return j;
}

nlohmann::json evaluate_raw_pixels(const Config& cfg, const EvalOptions& o) {
  Setup s;
  s.threads = cfg.get<int>("train.threads", 0);
  init_runtime(s.threads);
  s.data = data::load_dataset(cfg);
  s.norm = train::Normalization::from_config(cfg, s.data.train.images);
  choose_scored_split(s, o);
  auto j = run_protocols([](const torch::Tensor& x) { return x.flatten(1); }, s, o);
  j["features"] = "raw pixels";
  return j;
}

}  // namespace selfsup::run
