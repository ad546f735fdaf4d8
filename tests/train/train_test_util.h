#pragma once
// Small runs for the trainer tests: a 256-image Fashion-MNIST subset, a tiny convnet and small
// heads, built the way `selfsup pretrain` builds them, so a fresh build is a "new process".
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/method.h"
#include "selfsup/train/trainer.h"
#include "support/method_keys.h"

namespace selfsup::trainutil {

inline Config tiny_config(const std::string& method) {
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16, 32]}
method: {proj_hidden_dim: 32, proj_output_dim: 16, pred_hidden_dim: 16, queue_size: 96}
train: {batch_size: 32, lr: 0.05, optimizer: sgd, weight_decay: 1.0e-4, threads: 1}
augment: {pipeline: simclr}
seed: 5
)");
  return selfsup::testing::for_method(cfg, method);
}

/// Everything a training run owns, rebuilt from scratch by each call of `build_run`.
struct TinyRun {
  data::DataSplits data;
  methods::Method method;
  std::unique_ptr<train::ViewLoader> loader;
  train::RunDir dir;
  std::unique_ptr<train::Trainer> trainer;
};

/// With a folder, the run writes into it (and resumes from it with kResume) as `selfsup pretrain`.
inline std::unique_ptr<TinyRun> build_run(const Config& cfg, const train::TrainerOptions& topts,
                                          const std::string& dir = "", train::RunMode mode = train::RunMode::kFresh) {
  auto r = std::make_unique<TinyRun>();
  init_runtime(cfg.get<int>("train.threads", 0));
  const auto seed = cfg.get<uint64_t>("seed", 0);
  r->data = data::load_dataset(cfg);
  auto norm = train::Normalization::from_config(cfg, r->data.train.images);
  methods::DataSpec spec{r->data.train.channels(), r->data.train.height(), r->data.train.num_classes()};
  seed_everything(derive_seed(seed, "init"));
  r->method = methods::make_method(cfg, spec);
  auto views = train::views_from_config(cfg, spec.channels, spec.image_size, r->method->num_views());
  auto lopts = train::LoaderOptions().batch_size(cfg.get<int64_t>("train.batch_size", 32)).seed(derive_seed(seed, "loader"));
  r->loader = std::make_unique<train::ViewLoader>(r->data.train, views, norm, lopts, torch::kCPU);
  if (!dir.empty()) r->dir = train::RunDir(dir, mode);
  r->trainer = std::make_unique<train::Trainer>(cfg, r->method, *r->loader, topts, r->dir);
  r->dir.start(cfg);
  return r;
}

/// A fresh, empty folder under the test temp dir, removed first if it exists.
inline std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(::testing::TempDir()) / ("selfsup_train_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

}  // namespace selfsup::trainutil
