// selfsup augment preview: a PNG grid showing what the config's views do to real images.
#include <torch/torch.h>

#include <iostream>

#include "commands.h"
#include "selfsup/augment/pipeline.h"
#include "selfsup/augment/png.h"
#include "selfsup/core/config.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"

namespace selfsup::cli {
namespace {

struct PreviewArgs {
  std::string config, out = "views.png";
  int64_t n = 8, scale = 0;
  uint64_t seed = 0;
  bool seed_given = false;
};

void preview(const PreviewArgs& a) {
  Config cfg = Config::load(a.config);
  const YAML::Node node = cfg.node("augment");
  TORCH_CHECK(node.IsDefined() && !node.IsNull(), "config '", a.config,
              "' has no 'augment' key (expected augment: {views: [{name: ..., pipeline: ...}]})");
  augment::ViewSet views;
  try {
    views = augment::ViewSet::from_yaml(node);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "config '", a.config, "': ", e.what_without_backtrace());
  }
  const uint64_t seed = a.seed_given ? a.seed : cfg.get<uint64_t>("seed", 0);
  init_runtime(cfg.get<int>("train.threads", 0));
  data::DataSplits splits = data::load_dataset(cfg);
  torch::Tensor images = splits.train.head(a.n).images;
  TORCH_CHECK(images.size(0) > 0, "the training set of '", splits.train.name, "' is empty");

  torch::Generator gen = make_generator(derive_seed(seed, "augment-preview"));
  const int64_t cols = static_cast<int64_t>(views.size()) + 1;
  const int64_t scale = a.scale > 0 ? a.scale : std::max<int64_t>(1, 96 / images.size(2));
  augment::write_png_grid(a.out, views.preview(images, gen), cols, scale);

  std::cout << "wrote " << a.out << ": " << images.size(0) << " " << splits.train.name
            << " images (rows), columns: original";
  for (const std::string& name : views.names()) std::cout << ", " << name;
  std::cout << "\n";
}

}  // namespace

void register_augment(CLI::App& app) {
  auto* aug = app.add_subcommand("augment", "inspect augmentation pipelines");
  aug->require_subcommand(1);
  auto* cmd = aug->add_subcommand(
      "preview", "write a PNG grid: one row per training image, the original then each view");
  static PreviewArgs args;
  cmd->add_option("--config", args.config, "config with data.* and augment.views")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args.out, "PNG file to write")->capture_default_str();
  cmd->add_option("--n", args.n, "number of training images (rows)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--scale", args.scale, "enlargement factor (default: about 96 px per image)")
      ->check(CLI::Range(int64_t{0}, int64_t{64}));
  cmd->add_option_function<uint64_t>(
      "--seed",
      [](const uint64_t& s) {
        args.seed = s;
        args.seed_given = true;
      },
      "random seed (default: the config's seed, else 0)");
  cmd->callback([] { preview(args); });
}

}  // namespace selfsup::cli
