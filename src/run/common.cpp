#include "common.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <iostream>
#include <thread>

#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/nets/sparsity.h"
#include "selfsup/train/regularize.h"

namespace selfsup::run::detail {

Config config_of_run(const train::RunDir& dir, Config cfg, const std::vector<methods::Kind>& kinds,
                     const char* command) {
  if (!dir.resuming()) return cfg;
  cfg = dir.saved_config();  // a run continues with the config it started with
  const auto name = cfg.get<std::string>("method.name", "");
  const auto kind = methods::Registry::instance().get(name).kind;
  TORCH_CHECK(std::find(kinds.begin(), kinds.end(), kind) != kinds.end(), "--resume: the run in ", dir.path(),
              " trains ", name, " (", methods::kind_name(kind), "), which `selfsup ", command, "` does not; resume it ",
              "with the command that started it");
  return cfg;
}

bool join_ranks(const Config& cfg) {
  dist::init(dist::DistOptions::from_env().timeout_seconds(cfg.get<double>("dist.timeout_seconds", 120.0)));
  return cfg.get<bool>("dist.sync_batchnorm", true);
}

int configured_threads(const Config& cfg, int requested) {
  return requested > 0 ? requested : cfg.get<int>("train.threads", 0);
}

Context setup_process(const Config& cfg) {
  int threads = configured_threads(cfg);
  if (threads <= 0 && dist::local_world_size() > 1) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / dist::local_world_size());
  }
  init_runtime(threads);
  Context c;
  c.seed = cfg.get<uint64_t>("seed", 0);
  c.device = parse_device(cfg.get<std::string>("device", "cpu"));
  return c;
}

Context setup(const Config& cfg) {
  auto c = setup_process(cfg);
  c.data = data::load_dataset(cfg);
  TORCH_CHECK(c.data.train.height() == c.data.train.width(), "square images expected, got ", c.data.train.height(),
              "x", c.data.train.width());
  c.norm = train::Normalization::from_config(cfg, c.data.train.images);
  return c;
}

LoadedRun load_run(const std::string& checkpoint, int threads, const std::string& device,
                   const std::vector<std::string>& sets) {
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  for (const auto& s : sets) cfg.set(s);
  if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
  if (!device.empty()) cfg.set("device", YAML::Node(device));
  auto c = setup(cfg);
  const auto& t = c.data.train;
  auto method = methods::make_method(
      cfg, {t.channels(), t.height(), t.num_classes(), 0, 0, c.seed},
      {methods::Kind::kSelfSupervised, methods::Kind::kSemiSupervised, methods::Kind::kSupervised});
  method->to(c.device);
  train::load_checkpoint(checkpoint, *method, nullptr);
  method->eval();
  const auto name = cfg.get<std::string>("method.name", "");
  return {std::move(state), std::move(c), std::move(method), name};
}

std::unique_ptr<train::SemiLoader> two_stream_loader(const Config& cfg, const Context& c, const data::Dataset& labeled,
                                                     const data::Dataset& unlabeled,
                                                     const std::vector<std::string>& unlabeled_views, int64_t mu,
                                                     const char* stream) {
  auto views = train::semi_views_from_config(cfg, unlabeled_views, labeled.height(), labeled.channels());
  return std::make_unique<train::SemiLoader>(labeled, unlabeled, std::move(views.labeled), std::move(views.unlabeled),
                                             c.norm,
                                             train::SemiLoaderOptions()
                                                 .batch_size(cfg.get<int64_t>("train.batch_size", 64))
                                                 .mu(mu)
                                                 .seed(derive_seed(c.seed, stream))
                                                 .rank(dist::rank())
                                                 .world_size(dist::world_size()),
                                             c.device);
}

train::TrainerOptions trainer_options(const Config& cfg, const RunOptions& ro) {
  return train::TrainerOptions::from_config(cfg).time_limit(ro.time_limit).progress(!ro.quiet);
}

nlohmann::json evaluated(const train::RunDir& dir, const std::function<nlohmann::json()>& evaluate) {
  try {
    return evaluate();
  } catch (const c10::Error& e) {
    if (!train::stop_requested()) throw;
    TORCH_CHECK(false, e.msg(), "; the trained model is saved in ", dir.checkpoint_path(),
                " (`selfsup eval --checkpoint ", dir.path(), "` scores it)");
  }
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), "cannot read ", what, " ", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json train_summary(const Config& cfg, const Context& c, const train::TrainResult& r) {
  nlohmann::json s;
  s["method"] = cfg.get<std::string>("method.name", "");
  s["dataset"] = c.data.train.name;
  s["steps"] = r.steps;
  s["total_steps"] = r.total_steps;
  s["train_seconds"] = r.train_seconds;
  s["stopped_early"] = r.stopped_early;
  s["final_loss"] = r.last_loss;
  s["threads"] = at::get_num_threads();
  s["processes"] = dist::world_size();
  s["cpu"] = cpu_model_name();
  s["precision"] = r.precision.to_json();
  return s;
}

bool add_regularization(const Config& cfg, methods::MethodImpl& method, train::Trainer& trainer) {
  auto reg = train::regularization_from_config(cfg, method);
  if (!reg) return false;
  trainer.add_hook(std::move(reg));
  return true;
}

nlohmann::json report_sparsity(const train::RunDir& dir, const methods::MethodImpl& method, int64_t image_size) {
  const auto report = nets::sparsity_report(method, method.encoder().get(), image_size, image_size);
  const auto j = report.to_json();
  if (dist::is_main()) {
    std::cerr << "sparsity per layer (" << image_size << "x" << image_size << " image):\n" << report.table();
    dir.write_sparsity(j);
  }
  return j["total"];
}

}  // namespace selfsup::run::detail
