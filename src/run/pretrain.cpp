#include "selfsup/run/pretrain.h"

#include <thread>

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/eval/reconstruct.h"
#include "selfsup/methods/mae.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/trainer.h"

namespace selfsup::run {
namespace {
const std::vector<methods::Kind> kKinds{methods::Kind::kSelfSupervised, methods::Kind::kSupervised};
}  // namespace

nlohmann::json pretrain(Config cfg, const RunOptions& ro) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), kKinds, "pretrain");
  const bool sync_bn = detail::join_ranks(cfg);
  auto c = detail::setup(cfg);
  const auto& train_set = c.data.train;
  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_method(
      cfg, {train_set.channels(), train_set.height(), train_set.num_classes(), 0, 0, c.seed}, kKinds);
  method->to(c.device);
  if (sync_bn) nets::set_sync_batchnorm(*method, true);

  auto views = train::views_from_config(cfg, train_set.channels(), train_set.height(), method->num_views());
  TORCH_CHECK(static_cast<int64_t>(views.size()) == method->num_views(), "method ", cfg.get<std::string>("method.name", ""),
              " needs ", method->num_views(), " views, the augment section gives ", views.size());
  // A background augmentation thread pays off only on a core the model's intra-op threads leave
  // free: where they use every core it preempts one of them and OpenMP's barriers wait for it.
  const bool spare_core =
      std::thread::hardware_concurrency() > static_cast<unsigned>(at::get_num_threads() * dist::local_world_size());
  train::ViewLoader loader(train_set, std::move(views), c.norm,
                           train::LoaderOptions()
                               .batch_size(cfg.get<int64_t>("train.batch_size", 256))
                               .seed(derive_seed(c.seed, "loader"))
                               .prefetch(cfg.get<bool>("train.prefetch", spare_core))
                               .rank(dist::rank())
                               .world_size(dist::world_size()),
                           c.device);
  train::Trainer trainer(cfg, method, loader, detail::trainer_options(cfg, ro), dir);
  const bool regularized = detail::add_regularization(cfg, *method, trainer);
  if (auto* model = dynamic_cast<methods::Reconstructs*>(method.get())) {
    // The same test images and hidden patches every time, so the pictures of a run compare.
    const auto shown = eval::picture_images(c.data.test);
    trainer.add_hook(std::make_unique<train::PeriodicHook>(
        model->picture_every_epochs() * loader.steps_per_epoch(), [&, model, shown](const train::LoopState&) {
          if (dist::is_main()) dir.write_reconstructions(eval::reconstruction_png(*model, shown, c.norm, c.seed, c.device));
        }));
  }
  const auto eval_options = eval::EvalOptions::from_config(cfg);
  const auto report_options = ReportOptions::from_config(cfg);
  cfg.check_all_used();  // a misspelt key fails now, not after an hour of training

  dir.start(cfg);
  const auto result = trainer.fit();
  auto summary = detail::train_summary(cfg, c, result);
  summary["epochs"] = static_cast<double>(result.steps) / loader.steps_per_epoch();
  summary["images_per_second"] = result.images_per_second;
  if (regularized) summary["sparsity"] = detail::report_sparsity(dir, *method, train_set.height());
  if (!dist::is_main()) return summary;  // rank 0 alone evaluates and writes the summary
  if (ro.evaluate && !train::stop_requested()) {
    method->eval();
    const auto encoder = method->encoder();
    summary.update(detail::evaluated(dir, [&] {
      return eval::run_protocols([&](const torch::Tensor& x) { return encoder->forward(x); },
                                 eval::scored_split(c.data, eval_options, c.seed), c.norm, c.device, eval_options,
                                 c.seed, encoder);
    }));
  }
  dir.write_summary(summary);
  detail::write_report(dir, cfg, c, *method, report_options, ro);
  return summary;
}

}  // namespace selfsup::run
