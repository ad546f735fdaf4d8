#include "selfsup/run/denoise.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/denoise/classical.h"
#include "selfsup/denoise/evaluate.h"
#include "selfsup/denoise/images.h"
#include "selfsup/dist/dist.h"
#include "selfsup/methods/denoise.h"
#include "selfsup/train/denoise_loader.h"

namespace selfsup::run {
namespace fs = std::filesystem;
namespace {

/// The images of a denoising run: data.root and the file names of its three sets.
struct DenoiseData {
  std::string root;
  int64_t channels = 1;
  std::vector<std::string> train_names, val_names, test_names;
  std::vector<torch::Tensor> train, val, test;
};

std::vector<torch::Tensor> read_all(const std::string& root, const std::vector<std::string>& names, int64_t channels) {
  std::vector<torch::Tensor> out;
  for (const auto& n : names) {
    const auto path = (fs::path(root) / n).string();
    TORCH_CHECK(fs::is_regular_file(path), "data: no image '", n, "' in ", root);
    out.push_back(denoise::read_image(path, channels));
  }
  return out;
}

/// data.channels: 1 (gray, colour images converted) or 3 (RGB).
int64_t channels_of(const Config& cfg) {
  const auto channels = cfg.get<int64_t>("data.channels", 1);
  TORCH_CHECK(channels == 1 || channels == 3, "data.channels must be 1 (gray) or 3 (RGB), got ", channels);
  return channels;
}

DenoiseData load_data(const Config& cfg) {
  DenoiseData d;
  d.root = cfg.require<std::string>("data.root");
  TORCH_CHECK(fs::is_directory(d.root), "data.root '", d.root, "' is not a folder");
  d.channels = channels_of(cfg);
  d.val_names = cfg.get<std::vector<std::string>>("data.val", {});
  d.test_names = cfg.get<std::vector<std::string>>("data.test", {});
  TORCH_CHECK(!d.val_names.empty() && !d.test_names.empty(),
              "data.val and data.test must each name at least one image file of data.root");
  std::set<std::string> held(d.val_names.begin(), d.val_names.end());
  for (const auto& n : d.test_names) {
    TORCH_CHECK(held.insert(n).second, "data: '", n, "' is named twice in data.val / data.test");
  }
  if (cfg.has("data.train")) {
    d.train_names = cfg.get<std::vector<std::string>>("data.train", {});
    for (const auto& n : d.train_names) {
      TORCH_CHECK(!held.count(n), "data: '", n, "' is both a training image and a held-out one");
    }
  } else {
    for (const auto& path : denoise::image_files(d.root)) {
      const auto n = fs::path(path).filename().string();
      if (!held.count(n)) d.train_names.push_back(n);
    }
  }
  TORCH_CHECK(!d.train_names.empty(), "data: no training image left in ", d.root);
  d.train = read_all(d.root, d.train_names, d.channels);
  d.val = read_all(d.root, d.val_names, d.channels);
  d.test = read_all(d.root, d.test_names, d.channels);
  return d;
}

void check_sizes(const std::vector<std::string>& names, const std::vector<torch::Tensor>& images,
                 const nets::UNetImpl& net) {
  const int64_t m = net.min_size();
  for (size_t i = 0; i < images.size(); ++i) {
    TORCH_CHECK(images[i].size(1) >= m && images[i].size(2) >= m, "image '", names[i], "' is ", images[i].size(1), "x",
                images[i].size(2), ", smaller than the network's smallest input ", m, "x", m, " (model.unet_depth ",
                net.options.depth(), ")");
  }
}

/// A trained denoising network, rebuilt from its checkpoint's config.
struct LoadedDenoiser {
  Config cfg;
  detail::Context context;
  methods::DenoiseMethod method;
  std::string name;
};

LoadedDenoiser load_denoiser(const std::string& path, int threads, const std::string& device) {
  const auto checkpoint = train::RunDir::checkpoint_of(path);
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
  if (!device.empty()) cfg.set("device", YAML::Node(device));
  auto c = detail::setup_process(cfg);
  const auto kind = methods::Registry::instance().get(cfg.get<std::string>("method.name", "")).kind;
  TORCH_CHECK(kind == methods::Kind::kDenoising, checkpoint, " holds a ", methods::kind_name(kind),
              " method, not a denoiser");
  auto method = methods::make_denoise_method(cfg, {channels_of(cfg), 0, 0, 0, 0, c.seed});
  method->to(c.device);
  train::load_checkpoint(checkpoint, *method, nullptr);
  method->eval();
  return {cfg, c, method, cfg.get<std::string>("method.name", "")};
}

/// The strength of a classical filter with the best mean PSNR on the validation images.
std::pair<double, nlohmann::json> choose_strength(const denoise::ClassicalFilter& f,
                                                  const std::vector<denoise::NoisyImage>& val) {
  double best = -1, best_psnr = -std::numeric_limits<double>::infinity();
  nlohmann::json grid = nlohmann::json::object();
  for (double s : f.strengths) {
    const auto scores = denoise::score(val, [&](const torch::Tensor& x) { return f.apply(x, s); });
    grid[std::to_string(s)] = scores.mean_psnr;
    if (scores.mean_psnr > best_psnr) best_psnr = scores.mean_psnr, best = s;
  }
  return {best, grid};
}

uint64_t eval_noise_seed(const Config& cfg) { return cfg.get<uint64_t>("eval.noise_seed", 0); }

}  // namespace

nlohmann::json denoise_train(Config cfg, const RunOptions& ro) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), {methods::Kind::kDenoising}, "denoise train");
  detail::join_ranks(cfg);
  auto c = detail::setup_process(cfg);
  const auto d = load_data(cfg);
  const auto noise = data::NoiseOptions::from_config(cfg);
  const train::DenoiseLoaderOptions defaults;
  const int64_t patch = cfg.get<int64_t>("train.patch_size", defaults.patch_size());
  const uint64_t noise_seed = eval_noise_seed(cfg);

  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_denoise_method(cfg, {d.channels, patch, 0, 0, 0, c.seed});
  method->to(c.device);
  TORCH_CHECK(patch % 2 == 0 && patch >= method->net->min_size(), "train.patch_size must be even and at least ",
              method->net->min_size(), " (the network's smallest input), got ", patch);
  check_sizes(d.val_names, d.val, *method->net);
  check_sizes(d.test_names, d.test, *method->net);
  train::DenoiseLoader loader(d.train, noise, method->target(),
                              train::DenoiseLoaderOptions()
                                  .batch_size(cfg.get<int64_t>("train.batch_size", defaults.batch_size()))
                                  .patch_size(patch)
                                  .seed(derive_seed(c.seed, "loader"))
                                  .rank(dist::rank())
                                  .world_size(dist::world_size()),
                              c.device);
  train::Trainer trainer(cfg, method, loader, detail::trainer_options(cfg, ro), dir);
  cfg.check_all_used();

  dir.start(cfg);
  if (dist::is_main() && !ro.quiet) {
    std::cerr << method->net->options.width() << "-wide U-Net of depth " << method->net->options.depth()
              << " (receptive field " << method->net->receptive_field() << " px), " << d.train.size()
              << " training images, noise " << noise.describe() << "\n";
  }
  const auto result = trainer.fit();
  auto s = detail::train_summary(cfg, c, result);
  s["dataset"] = d.root;
  s["noise"] = noise.describe();
  s["images"] = {{"train", d.train_names}, {"val", d.val_names}, {"test", d.test_names}};
  s["unet"] = {{"width", method->net->options.width()},
               {"depth", method->net->options.depth()},
               {"receptive_field", method->net->receptive_field()},
               {"parameters", [&] {
                  int64_t n = 0;
                  for (const auto& p : method->net->parameters()) n += p.numel();
                  return n;
                }()}};
  if (!ro.summary_extra.is_null()) s.update(ro.summary_extra);
  if (ro.evaluate) {
    s.update(detail::evaluated(dir, [&] {
      const auto val = denoise::make_noisy(d.val_names, d.val, noise, noise_seed);
      const auto test = denoise::make_noisy(d.test_names, d.test, noise, noise_seed);
      const auto net = denoise::network_denoiser(*method, c.device);
      const auto identity = [](const torch::Tensor& x) { return x; };
      const auto test_scores = denoise::score(test, net);
      nlohmann::json j = {{"val", denoise::score(val, net).to_json()},
                          {"test", test_scores.to_json()},
                          {"noisy", {{"val", denoise::score(val, identity).to_json()},
                                     {"test", denoise::score(test, identity).to_json()}}},
                          {"eval_noise_seed", noise_seed}};
      std::vector<std::vector<torch::Tensor>> rows;
      for (const auto& im : test) rows.push_back({im.noisy, net(im.noisy), im.clean});
      dir.write_denoise_examples(denoise::examples_png({"noisy", s["method"].get<std::string>(), "clean"}, rows));
      if (dist::is_main() && !ro.quiet) {
        std::cerr << "test PSNR " << test_scores.mean_psnr << " dB, SSIM " << test_scores.mean_ssim
                  << " (noisy " << j["noisy"]["test"]["psnr"].get<double>() << " dB)\n";
      }
      return j;
    }));
  }
  dir.write_summary(s);
  return s;
}

nlohmann::json denoise_apply(const DenoiseApplyOptions& o) {
  auto loaded = load_denoiser(o.checkpoint, o.threads, o.device);
  const auto image = denoise::read_image(o.in, 0);
  check_sizes({o.in}, {image}, *loaded.method->net);
  // Refuse an unwritable name before the work.
  denoise::encode_image(torch::zeros({1, 1, 1}), o.out);
  const auto start = std::chrono::steady_clock::now();
  const auto out = denoise::network_denoiser(*loaded.method, loaded.context.device)(image);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  train::write_file_atomic(o.out, denoise::encode_image(out, o.out));
  return {{"in", o.in}, {"out", o.out}, {"size", {image.size(1), image.size(2)}}, {"channels", image.size(0)},
          {"method", loaded.name}, {"seconds", seconds}};
}

nlohmann::json denoise_eval(const DenoiseEvalOptions& o) {
  TORCH_CHECK(!o.checkpoints.empty() || !o.filters.empty(), "denoise eval: give at least one --checkpoint or --filter");
  std::vector<LoadedDenoiser> nets;
  for (const auto& p : o.checkpoints) nets.push_back(load_denoiser(p, o.threads, o.device));
  Config cfg = o.config.empty() ? (nets.empty() ? Config() : nets.front().cfg) : Config::load(o.config);
  TORCH_CHECK(!o.config.empty() || !nets.empty(), "denoise eval: --filter alone needs --config for the data and noise");
  if (nets.empty()) init_runtime(detail::configured_threads(cfg, o.threads));
  const auto d = load_data(cfg);
  const auto noise = data::NoiseOptions::from_config(cfg);
  const uint64_t seed = eval_noise_seed(cfg);
  std::vector<std::string> names = d.test_names;
  std::vector<torch::Tensor> clean = d.test;
  if (!o.in.empty()) {
    names.clear();
    clean.clear();
    for (const auto& path : denoise::image_files(o.in)) {
      names.push_back(fs::path(path).filename().string());
      clean.push_back(denoise::read_image(path, d.channels));
    }
    TORCH_CHECK(!names.empty(), "denoise eval: no image file in ", o.in);
  }
  for (const auto& n : nets) check_sizes(names, clean, *n.method->net);
  const auto images = denoise::make_noisy(names, clean, noise, seed);
  const auto val = denoise::make_noisy(d.val_names, d.val, noise, seed);

  nlohmann::json j = {{"noise", noise.describe()},
                      {"eval_noise_seed", seed},
                      {"images", names},
                      {"noisy", denoise::score(images, [](const torch::Tensor& x) { return x; }).to_json()},
                      {"methods", nlohmann::json::object()}};
  std::vector<std::string> columns{"noisy"};
  std::vector<denoise::Denoiser> denoisers;
  for (size_t i = 0; i < nets.size(); ++i) {
    auto fn = denoise::network_denoiser(*nets[i].method, nets[i].context.device);
    auto name = nets[i].name;
    if (j["methods"].contains(name)) name += " (" + o.checkpoints[i] + ")";
    auto s = denoise::score(images, fn).to_json();
    s["checkpoint"] = o.checkpoints[i];
    j["methods"][name] = s;
    columns.push_back(nets[i].name);
    denoisers.push_back(fn);
  }
  for (const auto& name : o.filters) {
    const auto& f = denoise::classical_filter(name);
    const auto [strength, grid] = choose_strength(f, val);
    denoise::Denoiser fn = [&f, strength = strength](const torch::Tensor& x) { return f.apply(x, strength); };
    auto s = denoise::score(images, fn).to_json();
    s[f.strength_name] = strength;
    s["validation_psnr"] = grid;
    j["methods"][name] = s;
    columns.push_back(name);
    denoisers.push_back(fn);
  }
  if (!o.examples.empty()) {
    columns.push_back("clean");
    std::vector<std::vector<torch::Tensor>> rows;
    for (const auto& im : images) {
      std::vector<torch::Tensor> row{im.noisy};
      for (const auto& fn : denoisers) row.push_back(fn(im.noisy));
      row.push_back(im.clean);
      rows.push_back(std::move(row));
    }
    train::write_file_atomic(o.examples, denoise::examples_png(columns, rows));
    j["examples"] = o.examples;
  }
  return j;
}

}  // namespace selfsup::run
