#include "selfsup/train/loader.h"

#include <omp.h>

#include "selfsup/core/runtime.h"

namespace selfsup::train {

Normalization Normalization::from_config(const Config& cfg, const torch::Tensor& images) {
  Normalization n;
  const int64_t c = images.size(1);
  if (cfg.has("data.mean") || cfg.has("data.std")) {
    n.mean = cfg.require<std::vector<double>>("data.mean");
    n.std = cfg.require<std::vector<double>>("data.std");
  } else {
    // Statistics of the training images themselves (e.g. 0.2860 / 0.3530 for Fashion-MNIST).
    torch::NoGradGuard no_grad;
    auto x = images.to(torch::kFloat32).div_(255.0).transpose(0, 1).reshape({c, -1});
    auto m = x.mean(1), s = x.std(1);
    for (int64_t i = 0; i < c; ++i) {
      n.mean.push_back(m[i].item<double>());
      n.std.push_back(s[i].item<double>());
    }
  }
  TORCH_CHECK(static_cast<int64_t>(n.mean.size()) == c && static_cast<int64_t>(n.std.size()) == c,
              "data.mean and data.std need one value per channel (", c, "), got ", n.mean.size(), " and ",
              n.std.size());
  for (double s : n.std) TORCH_CHECK(s > 0, "data.std values must be positive, got ", s);
  return n;
}

torch::Tensor Normalization::apply(const torch::Tensor& x) const {
  auto opts = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
  const int64_t c = static_cast<int64_t>(mean.size());
  auto m = torch::tensor(mean, torch::kFloat64).to(opts).view({1, c, 1, 1});
  auto s = torch::tensor(std, torch::kFloat64).to(opts).view({1, c, 1, 1});
  return (x - m) / s;
}

augment::ViewSet views_from_config(const Config& cfg, int64_t channels, int64_t image_size, int64_t num_views) {
  TORCH_CHECK(num_views > 0, "num_views must be positive, got ", num_views);
  YAML::Node node = cfg.node("augment");
  augment::ViewSet views;
  if (!node.IsDefined() || node.IsNull()) {
    views.add("view", augment::preset("simclr", image_size, channels), num_views);
  } else if (node.IsMap() && node["views"]) {
    views = augment::ViewSet::from_yaml(node);
  } else {
    TORCH_CHECK(node.IsMap() && node["pipeline"], "config key 'augment' in ", cfg.source(),
                " must hold 'pipeline' or 'views'");
    views.add("view", augment::Pipeline::from_yaml(node["pipeline"]), num_views);
  }
  return views.without_normalize();
}

ViewLoader::ViewLoader(data::Dataset dataset, augment::ViewSet views, Normalization norm,
                       LoaderOptions options, torch::Device device)
    : dataset_(std::move(dataset)), views_(std::move(views)), norm_(std::move(norm)),
      options_(options), device_(device) {
  TORCH_CHECK(options_.batch_size() > 0, "train.batch_size must be positive, got ", options_.batch_size());
  TORCH_CHECK(dataset_.size() > 0, "the training set is empty");
  TORCH_CHECK(!options_.drop_last() || dataset_.size() >= options_.batch_size(), "train.batch_size (",
              options_.batch_size(), ") exceeds the training set (", dataset_.size(),
              " images) and drop_last is on");
  TORCH_CHECK(options_.world_size() >= 1 && options_.rank() >= 0 && options_.rank() < options_.world_size(),
              "loader: rank ", options_.rank(), " is not in a world of ", options_.world_size());
  if (options_.world_size() > 1) {
    TORCH_CHECK(options_.batch_size() % options_.world_size() == 0, "train.batch_size (", options_.batch_size(),
                ") must be divisible by the number of processes (", options_.world_size(), ")");
    TORCH_CHECK(options_.drop_last(), "several processes need equal batches: drop_last must be on");
  }
}

ViewLoader::~ViewLoader() {
  if (pending_.valid()) pending_.wait();
}

int64_t ViewLoader::steps_per_epoch() const {
  const int64_t n = dataset_.size(), b = options_.batch_size();
  return options_.drop_last() ? n / b : (n + b - 1) / b;
}

torch::Tensor ViewLoader::order(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(order_mutex_);
  if (epoch != cached_epoch_) {
    if (options_.shuffle()) {
      auto gen = make_generator(derive_seed(options_.seed(), "order") + static_cast<uint64_t>(epoch));
      cached_order_ = torch::randperm(dataset_.size(), gen, torch::kLong);
    } else {
      cached_order_ = torch::arange(dataset_.size(), torch::kLong);
    }
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

methods::Batch ViewLoader::batch_at(int64_t step) const {
  torch::NoGradGuard no_grad;
  const int64_t spe = steps_per_epoch();
  const int64_t epoch = step / spe, pos = step % spe;
  const int64_t b = options_.batch_size();
  auto idx = order(epoch).slice(0, pos * b, std::min((pos + 1) * b, dataset_.size()));
  auto images = dataset_.images.index_select(0, idx).to(device_);
  auto gen = make_generator(derive_seed(options_.seed(), "augment") + static_cast<uint64_t>(step));
  methods::Batch batch;
  for (auto& v : views_(images, gen)) batch.views.push_back(norm_.apply(v));
  batch.labels = dataset_.labels.index_select(0, idx).to(device_);
  batch.indices = idx.to(device_);  // with the labels: FlexMatch indexes its device-side memory by them
  if (options_.world_size() > 1) {
    const int64_t rows = b / options_.world_size(), from = options_.rank() * rows;
    for (auto& v : batch.views) v = v.slice(0, from, from + rows).contiguous();
    batch.labels = batch.labels.slice(0, from, from + rows);
    batch.indices = batch.indices.slice(0, from, from + rows);
  }
  return batch;
}

methods::Batch ViewLoader::get(int64_t step) {
  methods::Batch out;
  if (pending_.valid() && pending_step_ == step) {
    out = pending_.get();
  } else {
    if (pending_.valid()) pending_.wait();
    out = batch_at(step);
  }
  if (options_.prefetch()) {
    pending_step_ = step + 1;
    const int threads = options_.prefetch_threads();
    pending_ = std::async(std::launch::async, [this, s = step + 1, threads] {
      // OpenMP's thread count is per thread: this one must not steal the trainer's cores.
      omp_set_num_threads(threads);
      return batch_at(s);
    });
  }
  return out;
}

}  // namespace selfsup::train
