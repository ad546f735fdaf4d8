#include "selfsup/run/pu.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/splits.h"
#include "selfsup/dist/dist.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/pu.h"
#include "selfsup/losses/pu.h"
#include "selfsup/methods/pu.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/transfer.h"

namespace selfsup::run {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The images of a PU run, every label binary (1: one of the positive classes).
struct PuData {
  data::Dataset labeled, unlabeled, val, val_labeled, val_unlabeled, test;
};

data::Dataset binary(const data::Dataset& d, const torch::Tensor& indices, const std::vector<int64_t>& positive) {
  auto out = indices.defined() ? d.subset(indices) : d;
  out.labels = data::positive_labels(out.labels, positive);
  out.classes = {"negative", "positive"};
  return out;
}

/// pu.prior: a number in (0, 1), or "estimate" (NaN here).
double given_prior(const Config& cfg) {
  const auto text = cfg.get<std::string>("pu.prior", "estimate");
  if (text == "estimate") return kNaN;
  double p = kNaN;
  size_t used = 0;
  try {
    p = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK(used == text.size() && std::isfinite(p) && p > 0 && p < 1,
              "pu.prior must be a number in (0, 1) or estimate, got '", text, "'");
  return p;
}

/// A method's scores of a data set's images (eval mode is the caller's).
torch::Tensor scores_of(methods::PuMethodImpl& m, const data::Dataset& d, const train::Normalization& norm,
                        torch::Device device) {
  return eval::extract_features([&](const torch::Tensor& x) { return m.score(x).unsqueeze(1); }, d.images, norm, device)
      .squeeze(1);
}

/// The estimates a labeled-vs-unlabeled classifier gives from its scores of the validation
/// split's labeled positives and unlabeled images: {c, Elkan-Noto's prior, BBE's prior} and BBE's
/// threshold.
struct Estimates {
  double c = kNaN, elkan_noto = kNaN, bbe = kNaN, bbe_threshold = kNaN;
};
Estimates estimates_of(const methods::PuMethodImpl& m, const torch::Tensor& val_positive, const torch::Tensor& val_unlabeled) {
  Estimates e;
  e.c = eval::elkan_noto_c(torch::sigmoid(val_positive.to(torch::kFloat64)));
  e.elkan_noto = eval::elkan_noto_prior(e.c, *m.labeled_odds());
  const auto b = eval::bbe_prior(val_positive, val_unlabeled);
  e.bbe = b.prior;
  e.bbe_threshold = b.threshold;
  return e;
}

nlohmann::json estimates_json(const torch::Tensor& recorded) {
  const auto r = recorded.to(torch::kFloat64).contiguous();
  const double* v = r.data_ptr<double>();
  return {{"c", v[0]}, {"elkan_noto", v[1]}, {"bbe", v[2]}};
}

struct Estimated {
  torch::Tensor estimates;  // {c, Elkan-Noto's prior, BBE's prior}: what the method records
  double seconds = 0;
};

/// The class prior from a labeled-vs-unlabeled classifier (Elkan-Noto's method, with the run's
/// model, views and optimizer) trained for `steps` on the training images and scored on the
/// validation split.
Estimated estimate_prior(const Config& cfg, const PuData& d, const detail::Context& c, const methods::DataSpec& spec,
                             const methods::DataSpec& source_spec, const std::string& init, bool sync_bn, int64_t steps,
                             bool quiet) {
  const auto start = std::chrono::steady_clock::now();
  // The run's config with the method replaced: the estimator is the elkan_noto method with its
  // own defaults.
  YAML::Node root = YAML::Clone(cfg.root());
  root.remove("method");
  root["method"]["name"] = "elkan_noto";
  const Config ecfg(root, cfg.source());
  seed_everything(derive_seed(c.seed, "estimator-init"));
  auto est = methods::make_pu_method(ecfg, spec);
  est->to(c.device);
  if (sync_bn) nets::set_sync_batchnorm(*est, true);
  if (!init.empty()) train::init_from_pretrained(init, {est->classifier}, source_spec);
  auto loader = detail::two_stream_loader(ecfg, c, d.labeled, d.unlabeled, {"weak"}, est->mu(), "estimator-loader");
  if (dist::is_main() && !quiet) std::cerr << "estimating the class prior: " << steps << " steps of elkan_noto\n";
  train::Trainer trainer(ecfg, est, *loader,
                         train::TrainerOptions::from_config(ecfg).max_steps(steps).checkpoint_every_steps(0).progress(!quiet));
  trainer.fit();
  TORCH_CHECK(!train::stop_requested(), "stopped while estimating the class prior, before any training: start the run "
              "again (with --overwrite)");
  est->eval();
  const auto e = estimates_of(*est, scores_of(*est, d.val_labeled, c.norm, c.device),
                              scores_of(*est, d.val_unlabeled, c.norm, c.device));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {torch::tensor({e.c, e.elkan_noto, e.bbe}, torch::kFloat64), seconds};
}

nlohmann::json risk_json(const functional::PuRisk& r) {
  return {{"positive_risk", r.positive_risk.item<double>()},
          {"negative_risk", r.negative_risk.item<double>()},
          {"risk", r.risk.item<double>()}};
}

}  // namespace

nlohmann::json pu(Config cfg, const RunOptions& ro, const std::string& init) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), {methods::Kind::kPositiveUnlabeled}, "pu");
  const bool sync_bn = detail::join_ranks(cfg);
  auto c = detail::setup(cfg);
  const auto& train_set = c.data.train;

  data::PuSplitOptions so;
  so.positive_classes(cfg.get<std::vector<int64_t>>("data.positive_classes", so.positive_classes()))
      .labeled(cfg.get<int64_t>("data.labeled_positives", so.labeled()))
      .unlabeled(data::pu_unlabeled_from_name(cfg.get<std::string>("data.unlabeled", "all")))
      .val_per_class(cfg.get<int64_t>("data.val_per_class", so.val_per_class()))
      .val_labeled(cfg.get<int64_t>("data.val_labeled_positives", so.val_labeled()))
      .seed(c.seed);
  const auto split = data::pu_split(train_set.labels, train_set.num_classes(), so);
  const auto& pos = so.positive_classes();
  const PuData d{binary(train_set, split.labeled, pos),     binary(train_set, split.unlabeled, pos),
                 binary(train_set, split.val, pos),         binary(train_set, split.val_labeled, pos),
                 binary(train_set, split.val_unlabeled, pos), binary(c.data.test, {}, pos)};
  // What the risk needs is the positive share of the unlabeled data; the labels behind it are
  // read for the report only.
  const double prior_true = d.unlabeled.labels.to(torch::kFloat64).mean().item<double>();

  const double prior = given_prior(cfg);
  const auto estimator = cfg.get<std::string>("pu.prior_estimator", "bbe");
  TORCH_CHECK(estimator == "bbe" || estimator == "elkan_noto", "pu.prior_estimator must be bbe or elkan_noto, got '",
              estimator, "'");
  const int64_t estimate_steps = cfg.get<int64_t>("pu.estimate_steps", 300);
  TORCH_CHECK(estimate_steps > 0, "pu.estimate_steps must be positive, got ", estimate_steps);

  const int64_t size = train_set.height(), channels = train_set.channels();
  const methods::DataSpec spec{channels, size, 2, d.unlabeled.size(), d.labeled.size(), c.seed};
  // A supervised checkpoint has a head per class of the data it was trained on.
  const methods::DataSpec source_spec{channels, size, train_set.num_classes(), 0, 0, c.seed};
  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_pu_method(cfg, spec);
  method->to(c.device);
  if (sync_bn) nets::set_sync_batchnorm(*method, true);
  if (!init.empty() && !ro.resume) train::init_from_pretrained(init, {method->classifier}, source_spec);
  const bool estimate = method->needs_prior() && std::isnan(prior);
  if (method->needs_prior() && !estimate) method->set_prior(prior);

  auto loader = detail::two_stream_loader(cfg, c, d.labeled, d.unlabeled, method->unlabeled_views(), method->mu(), "loader");
  train::Trainer trainer(cfg, method, *loader, detail::trainer_options(cfg, ro), dir);
  const auto report_options = ReportOptions::from_config(cfg);
  cfg.check_all_used();

  dir.start(cfg);
  // A resumed run takes the prior, estimated or not, from its checkpoint.
  double estimate_seconds = 0;
  if (estimate && !dir.resuming()) {
    const auto e = estimate_prior(cfg, d, c, spec, source_spec, init, sync_bn, estimate_steps, ro.quiet);
    const double p = e.estimates[estimator == "bbe" ? 2 : 1].item<double>();
    TORCH_CHECK(std::isfinite(p) && p > 0 && p < 1, "the ", estimator, " estimate of the class prior, ", p,
                ", is outside (0, 1): give pu.prior instead");
    method->set_prior(p);
    method->record_estimates(e.estimates);
    estimate_seconds = e.seconds;
    if (dist::is_main() && !ro.quiet) {
      std::cerr << "class prior: " << estimator << " estimate " << p << " (elkan_noto "
                << e.estimates[1].item<double>() << ", bbe " << e.estimates[2].item<double>() << ")\n";
    }
  }
  const auto result = trainer.fit();
  auto s = detail::train_summary(cfg, c, result);
  s.update({{"positive_classes", pos},
            {"labeled", d.labeled.size()},
            {"unlabeled", d.unlabeled.size()},
            {"unlabeled_set", data::pu_unlabeled_name(so.unlabeled())},
            {"validation", d.val.size()},
            {"val_labeled", d.val_labeled.size()},
            {"val_unlabeled", d.val_unlabeled.size()},
            {"init", init},
            {"prior_true", prior_true},
            {"prior_source", !method->needs_prior() ? "none" : estimate ? estimator : "config"}});
  s["prior_used"] = method->needs_prior() ? nlohmann::json(method->prior()) : nlohmann::json();
  if (estimate) {
    s["prior_estimates"] = estimates_json(method->recorded_estimates());
    // The estimator's wall time, spent before the training's time budget started (a resumed
    // run did not spend it again).
    s["prior_estimates"]["steps"] = estimate_steps;
    if (!dir.resuming()) s["prior_estimates"]["seconds"] = estimate_seconds;
  }
  s["unlabeled_epochs"] = static_cast<double>(result.steps) / loader->steps_per_epoch();
  s["steps_per_second"] = result.train_seconds > 0 ? result.steps / result.train_seconds : 0.0;
  if (!dist::is_main()) return s;  // rank 0 alone evaluates and writes the summary
  if (ro.evaluate && !train::stop_requested()) s.update(detail::evaluated(dir, [&] {
    nlohmann::json r;
    const auto eval_start = std::chrono::steady_clock::now();
    method->eval();
    const auto scores = [&](const data::Dataset& x) { return scores_of(*method, x, c.norm, c.device); };
    const auto s_labeled = scores(d.labeled), s_unlabeled = scores(d.unlabeled), s_val = scores(d.val),
               s_test = scores(d.test);
    // The validation split's two PU parts are subsets of it (sorted indices): their scores are
    // looked up, not computed again.
    const auto s_val_labeled = s_val.index_select(0, torch::searchsorted(split.val, split.val_labeled).cpu());
    const auto s_val_unlabeled = s_val.index_select(0, torch::searchsorted(split.val, split.val_unlabeled).cpu());
    method->calibrate({s_unlabeled, s_val_labeled});
    r.update(eval::binary_figures_json(eval::binary_figures(method->decision(s_val), d.val.labels), "val"));
    r.update(eval::binary_figures_json(eval::binary_figures(method->decision(s_test), d.test.labels), "test"));
    r["calibration"] = method->calibration();
    // The risk terms of the last model at the true prior (sigmoid loss): on the training images,
    // where uPU's negative risk goes below zero, and on the validation split, where it does not.
    r["train_risk"] = risk_json(functional::upu_risk(s_labeled, s_unlabeled, prior_true));
    r["val_risk"] = risk_json(functional::upu_risk(
        s_val_labeled, s_val_unlabeled, d.val_unlabeled.labels.to(torch::kFloat64).mean().item<double>()));
    if (method->labeled_odds()) {
      const auto e = estimates_of(*method, s_val_labeled, s_val_unlabeled);
      r["prior_estimates"] = {{"c", e.c}, {"elkan_noto", e.elkan_noto}, {"bbe", e.bbe}};
    }
    r["eval_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
    std::cerr << "test accuracy " << r["test_acc"] << ", F1 " << r["test_f1"] << ", AUC " << r["test_auc"]
              << "; validation accuracy " << r["val_acc"] << "\n";
    return r;
  }));
  dir.write_summary(s);
  detail::write_report(dir, cfg, c, *method, report_options, ro);
  return s;
}

}  // namespace selfsup::run
