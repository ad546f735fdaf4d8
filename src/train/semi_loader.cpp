#include "selfsup/train/semi_loader.h"

#include "selfsup/core/runtime.h"

namespace selfsup::train {
namespace {

data::Dataset repeated_to_fill(const data::Dataset& d, int64_t batch, int64_t unlabeled) {
  TORCH_CHECK(d.size() > 0, "the labeled set is empty (data.labels_per_class must be positive)");
  // Checked before the labeled set is repeated to fill a batch: a batch larger than the whole
  // training set is a mistake, and repeating to fill it could take any amount of memory.
  TORCH_CHECK(batch > 0 && batch <= d.size() + unlabeled, "train.batch_size (", batch,
              ") must be between 1 and the training set's ", d.size() + unlabeled, " images");
  if (d.size() >= batch) return d;
  const int64_t times = (batch + d.size() - 1) / d.size();
  return d.subset(torch::arange(d.size(), torch::kLong).repeat({times}));
}

}  // namespace

augment::Pipeline semi_view_from_config(const Config& cfg, const std::string& name, int64_t image_size,
                                        int64_t channels) {
  YAML::Node node = cfg.node("augment." + name);
  if (node.IsDefined() && !node.IsNull()) return augment::Pipeline::from_yaml(node);
  return augment::preset(name, image_size, channels);
}

SemiViews semi_views_from_config(const Config& cfg, const std::vector<std::string>& unlabeled_names,
                                 int64_t image_size, int64_t channels) {
  SemiViews v;
  v.labeled.add("weak", semi_view_from_config(cfg, "weak", image_size, channels));
  for (size_t i = 0; i < unlabeled_names.size(); ++i) {
    v.unlabeled.add(unlabeled_names[i] + std::to_string(i),
                    semi_view_from_config(cfg, unlabeled_names[i], image_size, channels));
  }
  // Both sections are known keys whichever views the method takes.
  (void)semi_view_from_config(cfg, "strong", image_size, channels);
  v.labeled = v.labeled.without_normalize();
  v.unlabeled = v.unlabeled.without_normalize();
  return v;
}

SemiLoader::SemiLoader(const data::Dataset& labeled, const data::Dataset& unlabeled, augment::ViewSet labeled_views,
                       augment::ViewSet unlabeled_views, const Normalization& norm, SemiLoaderOptions o,
                       torch::Device device)
    : labeled_(repeated_to_fill(labeled, o.batch_size(), unlabeled.size()), std::move(labeled_views), norm,
               LoaderOptions()
                   .batch_size(o.batch_size())
                   .seed(derive_seed(o.seed(), "labeled"))
                   .prefetch(false)
                   .rank(o.rank())
                   .world_size(o.world_size()),
               device) {
  TORCH_CHECK(o.batch_size() > 0, "train.batch_size must be positive, got ", o.batch_size());
  TORCH_CHECK(o.mu() >= 0, "method.mu (unlabeled images per labeled image) must be >= 0, got ", o.mu());
  if (o.mu() > 0) {
    unlabeled_.emplace(unlabeled, std::move(unlabeled_views), norm,
                       LoaderOptions()
                           .batch_size(o.batch_size() * o.mu())
                           .seed(derive_seed(o.seed(), "unlabeled"))
                           .prefetch(false)
                           .rank(o.rank())
                           .world_size(o.world_size()),
                       device);
  }
}

methods::Batch SemiLoader::get(int64_t step) {
  auto batch = labeled_.batch_at(step);
  if (!unlabeled_) return batch;  // the supervised baseline: no unlabeled images are read or augmented
  auto u = unlabeled_->batch_at(step);
  batch.unlabeled_views = std::move(u.views);
  batch.unlabeled_indices = u.indices;
  batch.unlabeled_true_labels = u.labels;
  return batch;
}

}  // namespace selfsup::train
