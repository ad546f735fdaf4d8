#include "selfsup/run/semi.h"

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/splits.h"
#include "selfsup/dist/dist.h"
#include "selfsup/eval/classifier.h"
#include "selfsup/methods/semi.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/transfer.h"

namespace selfsup::run {

nlohmann::json semi(Config cfg, const RunOptions& ro, const std::string& init,
                    const std::function<void(methods::SemiMethodImpl&)>& prepare) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), {methods::Kind::kSemiSupervised, methods::Kind::kSupervised},
                              "semi");
  const bool sync_bn = detail::join_ranks(cfg);
  auto c = detail::setup(cfg);
  const int64_t per_class = cfg.get<int64_t>("data.labels_per_class", 10);
  const auto split = data::semi_split(c.data.train.labels, per_class, cfg.get<int64_t>("data.val_per_class", 100), c.seed);
  const auto labeled = c.data.train.subset(split.labeled), unlabeled = c.data.train.subset(split.unlabeled),
             val = c.data.train.subset(split.val);
  const int64_t size = c.data.train.height(), channels = c.data.train.channels();
  const methods::DataSpec spec{channels, size, c.data.train.num_classes(), unlabeled.size(), labeled.size(), c.seed};
  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_semi_method(cfg, spec);
  method->to(c.device);
  if (sync_bn) nets::set_sync_batchnorm(*method, true);
  const bool probe = cfg.get<bool>("train.probe_head", false);
  TORCH_CHECK(!probe || !init.empty() || ro.resume, "train.probe_head fits the head on a pretrained encoder's features: it needs --init");
  nlohmann::json probed;
  if (!init.empty() && !ro.resume) {
    train::init_from_pretrained(init, *method, spec);
    if (probe) {
      const auto h = eval::probe_head(*method, labeled, val, c.norm, c.device);
      probed = {{"l2", h.l2}, {"val_acc", h.val_accuracy}};
    }
  }

  if (prepare && !ro.resume) prepare(*method);

  auto loader = detail::two_stream_loader(cfg, c, labeled, unlabeled, method->unlabeled_views(), method->mu(), "loader");
  train::Trainer trainer(cfg, method, *loader, detail::trainer_options(cfg, ro), dir);
  const bool regularized = detail::add_regularization(cfg, *method, trainer);
  const auto report_options = ReportOptions::from_config(cfg);
  cfg.check_all_used();

  dir.start(cfg);
  const auto result = trainer.fit();
  auto s = detail::train_summary(cfg, c, result);
  s.update({{"labels_per_class", per_class}, {"labeled", labeled.size()}, {"unlabeled", unlabeled.size()},
            {"validation", val.size()}, {"init", init}});
  if (!probed.is_null()) s["probe_head"] = probed;
  if (!ro.summary_extra.is_null()) s.update(ro.summary_extra);
  // The loader counts epochs over the stream it has: the unlabeled one, or the labeled one (mu 0).
  s[method->mu() > 0 ? "unlabeled_epochs" : "labeled_epochs"] = static_cast<double>(result.steps) / loader->steps_per_epoch();
  s["steps_per_second"] = result.train_seconds > 0 ? result.steps / result.train_seconds : 0.0;
  if (regularized) s["sparsity"] = detail::report_sparsity(dir, *method, size);
  if (!dist::is_main()) return s;  // rank 0 alone evaluates and writes the summary
  if (ro.evaluate && !train::stop_requested()) {
    s.update(detail::evaluated(
        dir, [&] { return eval::classifier_report(*method, {val, c.data.test, unlabeled}, c.norm, c.device); }));
    std::cerr << "test accuracy " << s["test_acc"] << " (EMA " << s["test_acc_ema"] << "), validation " << s["val_acc"]
              << " (EMA " << s["val_acc_ema"] << ")\n";
  }
  dir.write_summary(s);
  detail::write_report(dir, cfg, c, *method, report_options, ro);
  return s;
}

}  // namespace selfsup::run
