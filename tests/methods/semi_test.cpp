// The semi-supervised methods: a short run of each on a small subset whose supervised loss falls,
// the unlabeled weight's ramp, Mean Teacher's gradient and EMA rules, and FlexMatch's thresholds
// surviving a checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/splits.h"
#include "selfsup/methods/semi.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/trainer.h"
#include "support/error_of.h"
#include "support/method_keys.h"
#include "support/series.h"

using namespace selfsup;

namespace {

Config semi_config(const std::string& method) {
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 1200}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {lr: 0.05, optimizer: sgd, momentum: 0.9, weight_decay: 0.0, threads: 2}
method: {ramp_fraction: 0.0}
seed: 2
)");
  return selfsup::testing::for_method(cfg, method);
}

struct SemiSetup {
  data::Dataset labeled, unlabeled;
  train::Normalization norm;
  methods::DataSpec spec;
};

SemiSetup semi_data(const Config& cfg) {
  auto splits = data::load_dataset(cfg);
  auto ls = data::labeled_subset(splits.train.labels, 10, 1);
  SemiSetup s{splits.train.subset(ls.labeled), splits.train.subset(ls.unlabeled),
              train::Normalization::from_config(cfg, splits.train.images), {}};
  s.spec = {1, 28, 10, s.unlabeled.size(), s.labeled.size()};
  return s;
}

train::SemiLoader loader_for(const SemiSetup& s, const methods::SemiMethodImpl& m) {
  augment::ViewSet lv, uv;
  lv.add("weak", augment::preset("weak", 28, 1));
  const auto names = m.unlabeled_views();
  for (size_t i = 0; i < names.size(); ++i) uv.add(names[i] + std::to_string(i), augment::preset(names[i], 28, 1));
  // As `selfsup semi` does: a method that takes no unlabeled view gets no unlabeled stream (mu 0).
  const bool none = m.unlabeled_views().empty();
  return train::SemiLoader(s.labeled, s.unlabeled, lv.without_normalize(), uv.without_normalize(), s.norm,
                           train::SemiLoaderOptions().batch_size(32).mu(none ? 0 : 2).seed(4), torch::kCPU);
}


class SemiRun : public ::testing::TestWithParam<std::string> {};

// The unlabeled weight is constant here (no ramp), so the total loss is one objective throughout,
// except for MixMatch (ramped as by default), whose targets (sharpened guesses) keep moving: there
// the labeled term must fall.
TEST_P(SemiRun, LossFallsAndEverythingIsLogged) {
  auto cfg = semi_config(GetParam());
  // MixMatch's weight (75) without its ramp swamps the labeled term in 30 steps.
  if (GetParam() == "mixmatch") cfg.set("method.ramp_fraction", YAML::Node(0.4));
  init_runtime(2);
  seed_everything(3);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  const int64_t steps = 30;
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(steps).progress(false));
  std::vector<double> total, sup;
  bool saw_mask = false;
  const auto first = loader.get(0);
  EXPECT_EQ(first.unlabeled_views.size(), m->unlabeled_views().size())
      << GetParam() << ": the loader must read exactly the unlabeled views the method takes";
  if (m->unlabeled_views().empty()) {
    EXPECT_FALSE(first.unlabeled_indices.defined());
  }
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput& out) {
    ASSERT_TRUE(std::isfinite(loss));
    total.push_back(loss);
    sup.push_back(out.metrics.count("sup_loss") ? out.metrics.at("sup_loss") : loss);
    if (out.metrics.count("mask_rate")) {
      saw_mask = true;
      EXPECT_GE(out.metrics.at("mask_rate"), 0.0);
      EXPECT_LE(out.metrics.at("mask_rate"), 1.0);
    }
  });
  trainer.fit();
  ASSERT_EQ(total.size(), static_cast<size_t>(steps));
  // SimMatch's instance loss switches on when its labeled bank is full (a few steps in): its total
  // jumps there, and the labeled term is the one that must fall. Deep Co-Training's two networks
  // start out agreeing (both near uniform), so its agreement term can only grow at first.
  const auto& falling =
      GetParam() == "mixmatch" || GetParam() == "simmatch" || GetParam() == "deep_co_training" ? sup : total;
  EXPECT_LT(selfsup::testing::window_mean(falling, steps - 6, steps), selfsup::testing::window_mean(falling, 0, 6)) << GetParam() << ": the loss did not fall";
  const std::string name = GetParam();
  if (name == "pseudo_label" || name == "fixmatch" || name == "flexmatch" || name == "simmatch" || name == "uda") {
    EXPECT_TRUE(saw_mask) << name << " logs no mask rate";
  }
}

INSTANTIATE_TEST_SUITE_P(AllSemiMethods, SemiRun,
                         ::testing::Values("supervised", "pseudo_label", "pi_model", "mean_teacher", "vat",
                                           "mixmatch", "fixmatch", "flexmatch", "simmatch", "uda", "gce", "co_teaching", "elr",
                                           "s4l_rotation", "s4l_exemplar", "deep_co_training"),
                         [](const auto& info) { return info.param; });

// The unlabeled weight's ramp: over method.ramp_steps optimizer steps whatever the run's length,
// or over a share of the planned steps; a ramp_fraction in the config replaces a method's default
// ramp in steps (MixMatch's 16384).
std::vector<double> weights_of_run(Config cfg, int64_t steps) {
  init_runtime(2);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(steps).progress(false));
  std::vector<double> w;
  trainer.on_step([&](int64_t, double, const methods::StepOutput& out) { w.push_back(out.metrics.at("unsup_weight")); });
  trainer.fit();
  return w;
}

TEST(SemiRamp, InStepsOrAsAShareOfTheRun) {
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 600}
model: {backbone: convnet, channels: [4, 8, 8]}
train: {lr: 0.01, optimizer: sgd, threads: 2}
method: {name: pi_model, unlabeled_weight: 10.0, ramp_steps: 4}
)");
  EXPECT_EQ(weights_of_run(cfg, 6), (std::vector<double>{0, 2.5, 5, 7.5, 10, 10}));
  cfg.set("method.name", YAML::Node("mixmatch"));
  cfg.set("method.unlabeled_weight", YAML::Node(75.0));
  cfg.set("method.ramp_steps", YAML::Node(0));  // no ramp
  EXPECT_EQ(weights_of_run(cfg, 2), (std::vector<double>{75, 75}));

  auto mix = Config::parse(R"(
data: {name: fashion-mnist, limit: 600}
model: {backbone: convnet, channels: [4, 8, 8]}
train: {lr: 0.01, optimizer: sgd, threads: 2}
method: {name: mixmatch}
)");
  const auto paper = weights_of_run(mix, 3);  // MixMatch's default: 75 over 16384 steps
  ASSERT_EQ(paper.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(paper[i], 75.0 * i / 16384.0) << "step " << i;
  mix.set("method.ramp_fraction", YAML::Node(0.5));  // half of a 4-step run
  EXPECT_EQ(weights_of_run(mix, 4), (std::vector<double>{0, 37.5, 75, 75}));
  mix.set("method.ramp_steps", YAML::Node(-1));
  EXPECT_THROW(weights_of_run(mix, 1), c10::Error);
}

TEST(MeanTeacher, GradientsReachTheStudentOnlyAndTheTeacherFollowsTheEmaRule) {
  auto cfg = semi_config("mean_teacher");
  cfg.set("method.ema_decay", YAML::Node(0.9));
  cfg.set("method.ramp_fraction", YAML::Node(0.0));
  init_runtime(2);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  m->train();
  auto out = m->training_step(loader.get(0));
  out.loss.backward();
  for (const auto& p : m->student->parameters()) EXPECT_TRUE(p.grad().defined());
  for (const auto& p : m->ema->parameters()) {
    EXPECT_FALSE(p.grad().defined() && p.grad().abs().sum().item<double>() > 0) << "a gradient reached the teacher";
  }
  // One optimizer-like step on the student, then the EMA update: teacher = 0.9 teacher + 0.1 student.
  std::vector<torch::Tensor> before;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->student->parameters()) p.sub_(0.1 * p.grad());
    for (const auto& p : m->ema->parameters()) before.push_back(p.detach().clone());
  }
  m->after_optimizer_step(100, 1000);  // past the decay's warm-up: min(1 - 1/101, 0.9) = 0.9
  auto student = m->student->parameters(), teacher = m->ema->parameters();
  for (size_t i = 0; i < teacher.size(); ++i) {
    EXPECT_TRUE(torch::allclose(teacher[i], 0.9 * before[i] + 0.1 * student[i], 1e-5, 1e-6)) << "parameter " << i;
  }
}

// A method trained for a few steps on the small subset, and a fresh one loaded from its checkpoint
// (the state a resumed run starts from).
struct TrainedAndReloaded {
  std::shared_ptr<methods::SemiMethodImpl> trained, reloaded;
};

TrainedAndReloaded train_and_reload(const Config& cfg, int64_t steps, const std::string& name) {
  init_runtime(2);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(steps).progress(false));
  trainer.fit();
  const auto path = (std::filesystem::path(::testing::TempDir()) / (name + ".ckpt")).string();
  train::save_checkpoint(path, *m, nullptr, {steps, steps, 1.0, cfg.dump()});
  auto fresh = methods::make_semi_method(cfg, s.spec);
  train::load_checkpoint(path, *fresh, nullptr);
  return {m, fresh};
}

TEST(FlexMatch, ClassWiseThresholdsTravelWithTheCheckpoint) {
  auto cfg = semi_config("flexmatch");
  cfg.set("method.threshold", YAML::Node(0.3));  // low, so this short run selects samples
  auto [m, fresh] = train_and_reload(cfg, 8, "flexmatch");
  auto selected = m->named_buffers()["thresholds.selected"];
  ASSERT_GT(selected.ge(0).sum().item<int64_t>(), 0) << "nothing was selected: the test proves nothing";
  EXPECT_TRUE(torch::equal(fresh->named_buffers()["thresholds.selected"], selected));
  EXPECT_TRUE(torch::allclose(fresh->named_buffers()["thresholds.thresholds"], m->named_buffers()["thresholds.thresholds"]));
}

TEST(FixMatch, DistributionAlignmentMovesAndTravelsWithTheCheckpoint) {
  auto cfg = semi_config("fixmatch");
  cfg.set("method.dist_align", YAML::Node(true));
  cfg.set("method.dist_align_momentum", YAML::Node(0.5));
  auto [m, fresh] = train_and_reload(cfg, 4, "fixmatch_da");
  auto p_model = m->named_buffers()["dist_align.p_model"];
  EXPECT_EQ(m->named_buffers()["dist_align.updates"].item<int64_t>(), 4);
  EXPECT_NEAR(p_model.sum().item<double>(), 1.0, 1e-9);
  EXPECT_FALSE(torch::allclose(p_model, torch::full({10}, 0.1, torch::kFloat64))) << "p_model never moved";
  EXPECT_TRUE(torch::equal(fresh->named_buffers()["dist_align.p_model"], p_model));
}

/// `name` with the class-aware contrast at weight 0.5, every image given a class: one step logs
/// the term, adds it with its weight on top of `own` (the method's objective from the step's
/// metrics), and trains the contrast projector. Returns the config for further checks.
Config expect_weighted_contrast(const std::string& name,
                                const std::function<double(const std::map<std::string, double>&)>& own) {
  auto cfg = semi_config(name);
  cfg.set("method.contrast_weight", YAML::Node(0.5));
  cfg.set("method.contrast_threshold", YAML::Node(0.0));
  init_runtime(2);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  m->train();
  auto out = m->training_step(loader.get(0));
  EXPECT_TRUE(out.metrics.count("contrast_loss")) << name;
  const double contrast = out.metrics.count("contrast_loss") ? out.metrics.at("contrast_loss") : 0.0;
  EXPECT_TRUE(std::isfinite(contrast) && contrast > 0) << name << ": " << contrast;
  const double base = own(out.metrics);
  EXPECT_NEAR(out.loss.item<double>(), base + 0.5 * contrast, 1e-4 * (1 + base)) << name;
  out.loss.backward();
  auto projector = m->named_parameters()["contrast_projector.layers.0.weight"];
  EXPECT_TRUE(projector.defined() && projector.grad().defined() && projector.grad().abs().sum().item<double>() > 0)
      << name << ": the contrast projector got no gradient";
  return cfg;
}

double fixmatch_objective(const std::map<std::string, double>& m) {
  return m.at("sup_loss") + m.at("unsup_weight") * m.at("unsup_loss");
}

TEST(FixMatch, ClassContrastTrainsItsProjectorAndTravelsWithTheCheckpoint) {
  auto cfg = expect_weighted_contrast("fixmatch", fixmatch_objective);
  auto unread = [](const Config& c, const std::string& key) {
    const auto u = c.unused_keys();
    return std::find(u.begin(), u.end(), key) != u.end();
  };
  EXPECT_FALSE(unread(cfg, "method.contrast_weight"));
  auto s = semi_data(cfg);
  auto [trained, fresh] = train_and_reload(cfg, 3, "fixmatch_cc");
  EXPECT_TRUE(torch::equal(fresh->named_parameters()["contrast_projector.layers.0.weight"],
                           trained->named_parameters()["contrast_projector.layers.0.weight"]));
  // Off (the default), nothing is registered; methods without a strong view refuse the keys.
  auto plain = methods::make_semi_method(semi_config("fixmatch"), s.spec);
  EXPECT_EQ(plain->named_parameters().find("contrast_projector.layers.0.weight"), nullptr);
  auto sup = semi_config("supervised");
  sup.set("method.contrast_weight", YAML::Node(1.0));
  const auto msg = selfsup::testing::error_of([&] { methods::make_semi_method(sup, s.spec); });
  EXPECT_NE(msg.find("'method.contrast_weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is not a key of method supervised"), std::string::npos) << msg;
  auto bad = semi_config("fixmatch");
  bad.set("method.contrast_temperature", YAML::Node(-1.0));
  EXPECT_THROW(methods::make_semi_method(bad, s.spec), c10::Error);
}

TEST(SimMatch, BankFillsTrainsTheProjectorAndTravelsWithTheCheckpoint) {
  auto cfg = semi_config("simmatch");
  init_runtime(2);
  auto s = semi_data(cfg);
  auto m = methods::make_semi_method(cfg, s.spec);
  auto loader = loader_for(s, *m);
  m->train();
  // 100 labeled images, 32 per batch: the bank cannot be full before four steps, and only once it
  // is do the similarities enter the targets and the instance loss.
  const auto full = [&] { return m->named_buffers()["bank.written"].all().item<bool>(); };
  int64_t step = 0;
  for (; !full() && step < 20; ++step) {
    auto out = m->training_step(loader.get(step));
    EXPECT_EQ(out.metrics.at("instance_loss"), 0.0) << "step " << step;
  }
  ASSERT_TRUE(full());
  EXPECT_GE(step, 4);
  auto out = m->training_step(loader.get(step));
  const double instance = out.metrics.at("instance_loss");
  EXPECT_TRUE(std::isfinite(instance) && instance > 0) << instance;
  const double fixmatch = out.metrics.at("sup_loss") + out.metrics.at("unsup_weight") * out.metrics.at("unsup_loss");
  EXPECT_NEAR(out.loss.item<double>(), fixmatch + instance, 1e-4 * (1 + fixmatch));
  out.loss.backward();
  auto projector = m->named_parameters()["projector.layers.0.weight"];
  ASSERT_TRUE(projector.defined() && projector.grad().defined());
  EXPECT_GT(projector.grad().abs().sum().item<double>(), 0);
  // The bank's rows are unit vectors with the labeled images' labels.
  const auto bank = m->named_buffers()["bank.embeddings"];
  EXPECT_TRUE(torch::allclose(bank.norm(2, 1), torch::ones({s.labeled.size()}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(m->named_buffers()["bank.labels"], s.labeled.labels));

  auto [trained, fresh] = train_and_reload(cfg, 5, "simmatch");
  for (const char* name : {"bank.embeddings", "bank.labels", "bank.written", "dist_align.p_model"}) {
    EXPECT_TRUE(torch::equal(fresh->named_buffers()[name], trained->named_buffers()[name])) << name;
  }
  auto bad = semi_config("simmatch");
  bad.set("method.smoothing_alpha", YAML::Node(1.5));
  EXPECT_THROW(methods::make_semi_method(bad, s.spec), c10::Error);
  auto no_labeled = s.spec;
  no_labeled.num_labeled = 0;
  EXPECT_THROW(methods::make_semi_method(semi_config("simmatch"), no_labeled), c10::Error);
}

TEST(SimMatch, ClassContrastIsAddedWithItsWeight) {
  expect_weighted_contrast("simmatch", [](const std::map<std::string, double>& m) {
    return fixmatch_objective(m) + m.at("instance_loss");
  });
}

TEST(SemiMethods, PretrainOnlyMethodsAreRefused) {
  auto cfg = semi_config("simclr");
  try {
    methods::make_semi_method(cfg, {1, 28, 10, 100});
    FAIL() << "simclr accepted as a semi-supervised method";
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("method 'simclr' is self-supervised; this command trains"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("fixmatch"), std::string::npos) << e.msg();
  }
}

}  // namespace
