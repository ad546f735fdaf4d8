// The positive-unlabeled methods: a short run of each on a small subset whose risk (or loss)
// falls, their decisions after calibration, and the prior travelling with the checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/splits.h"
#include "selfsup/methods/pu.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/trainer.h"
#include "support/error_of.h"
#include "support/series.h"

using namespace selfsup;

namespace {

Config pu_test_config(const std::string& method) {
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 1500}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {lr: 0.003, optimizer: adamw, weight_decay: 0.0, threads: 2}
seed: 2
)");
  cfg.set("method.name", YAML::Node(method));
  return cfg;
}

struct PuSetup {
  data::Dataset labeled, unlabeled;
  train::Normalization norm;
  methods::DataSpec spec;
};

// 150 labeled positives (trousers, coats, sneakers) and every other training image unlabeled,
// labels binary.
PuSetup pu_test_data(const Config& cfg) {
  auto splits = data::load_dataset(cfg);
  const auto s = data::pu_split(splits.train.labels, 10, data::PuSplitOptions().labeled(150).val_per_class(20).seed(1));
  const std::vector<int64_t> pos{1, 4, 7};
  auto labeled = splits.train.subset(s.labeled), unlabeled = splits.train.subset(s.unlabeled);
  labeled.labels = data::positive_labels(labeled.labels, pos);
  unlabeled.labels = data::positive_labels(unlabeled.labels, pos);
  PuSetup out{labeled, unlabeled, train::Normalization::from_config(cfg, splits.train.images), {}};
  out.spec = {1, 28, 2, unlabeled.size(), labeled.size(), 5};
  return out;
}

train::SemiLoader pu_loader(const PuSetup& s, const methods::PuMethodImpl& m) {
  augment::ViewSet lv, uv;
  lv.add("weak", augment::preset("weak", 28, 1));
  uv.add("weak0", augment::preset("weak", 28, 1));
  return train::SemiLoader(s.labeled, s.unlabeled, lv.without_normalize(), uv.without_normalize(), s.norm,
                           train::SemiLoaderOptions().batch_size(16).mu(m.mu()).seed(4), torch::kCPU);
}

class PuRun : public ::testing::TestWithParam<std::string> {};

// The risk of uPU and nnPU (at the true prior of this subset's unlabeled images), the objective of
// the others: it falls over 30 steps, and the risk terms are logged where there are some.
TEST_P(PuRun, RiskFallsAndItsTermsAreLogged) {
  const std::string name = GetParam();
  auto cfg = pu_test_config(name);
  cfg.set("method.mu", YAML::Node(3));  // 16 labeled positives and 48 unlabeled images a step
  init_runtime(2);
  seed_everything(3);
  auto s = pu_test_data(cfg);
  auto m = methods::make_pu_method(cfg, s.spec);
  const double prior = s.unlabeled.labels.to(torch::kFloat64).mean().item<double>();
  if (m->needs_prior()) m->set_prior(prior);
  auto loader = pu_loader(s, *m);
  const int64_t steps = 30;
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(steps).progress(false));
  std::vector<double> falling;
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput& out) {
    ASSERT_TRUE(std::isfinite(loss));
    if (m->needs_prior()) {
      ASSERT_TRUE(out.metrics.count("positive_risk") && out.metrics.count("negative_risk")) << name;
      falling.push_back(out.metrics.at("risk"));
    } else {
      falling.push_back(loss);
    }
  });
  trainer.fit();
  ASSERT_EQ(falling.size(), static_cast<size_t>(steps));
  const double first = selfsup::testing::window_mean(falling, 0, 6), last = selfsup::testing::window_mean(falling, steps - 6, steps);
  EXPECT_LT(last, first) << name << ": did not fall (first " << first << ", last " << last << ")";
}

INSTANTIATE_TEST_SUITE_P(AllPuMethods, PuRun, ::testing::Values("upu", "nnpu", "vpu", "elkan_noto", "pn"),
                         [](const auto& info) { return info.param; });

TEST(PuMethods, KindAndThePriorTheyNeed) {
  const auto& r = methods::Registry::instance();
  for (const char* name : {"upu", "nnpu", "vpu", "elkan_noto", "pn"}) {
    EXPECT_EQ(r.get(name).kind, methods::Kind::kPositiveUnlabeled) << name;
  }
  EXPECT_EQ(r.names({methods::Kind::kPositiveUnlabeled}), "elkan_noto, nnpu, pn, upu, vpu");
  // semi's kinds refuse a PU method, naming the ones it trains.
  const auto msg = selfsup::testing::error_of([&] {
    methods::make_method(pu_test_config("nnpu"), {1, 28, 2, 100, 10, 0},
                         {methods::Kind::kSemiSupervised, methods::Kind::kSupervised});
  });
  EXPECT_NE(msg.find("method 'nnpu' is positive-unlabeled; this command trains co_teaching, deep_co_training, elr, fixmatch"), std::string::npos) << msg;
  // ...and `pu` refuses the others.
  const auto other = selfsup::testing::error_of([&] { methods::make_pu_method(pu_test_config("fixmatch"), {1, 28, 2, 100, 10, 0}); });
  EXPECT_NE(other.find("method 'fixmatch' is semi-supervised; this command trains elkan_noto, nnpu, pn, upu, vpu"),
            std::string::npos)
      << other;

  init_runtime(2);
  auto cfg = pu_test_config("nnpu");
  auto s = pu_test_data(cfg);
  auto m = methods::make_pu_method(cfg, s.spec);
  EXPECT_TRUE(m->needs_prior());
  EXPECT_TRUE(std::isnan(m->prior()));
  auto loader = pu_loader(s, *m);
  m->train();
  const auto no_prior = selfsup::testing::error_of([&] { m->training_step(loader.get(0)); });
  EXPECT_NE(no_prior.find("nnpu needs the class prior of the unlabeled data: set pu.prior"), std::string::npos) << no_prior;
  EXPECT_NE(selfsup::testing::error_of([&] { m->set_prior(1.0); }).find("must be in (0, 1), got 1"), std::string::npos);
  for (const char* name : {"vpu", "elkan_noto", "pn"}) {
    EXPECT_FALSE(methods::make_pu_method(pu_test_config(name), s.spec)->needs_prior()) << name;
  }
}

// The prior and its estimates are buffers: a resumed run trains and reports with the ones it
// started with.
TEST(PuMethods, ThePriorAndItsEstimatesTravelWithTheCheckpoint) {
  init_runtime(2);
  auto cfg = pu_test_config("nnpu");
  auto s = pu_test_data(cfg);
  auto m = methods::make_pu_method(cfg, s.spec);
  m->set_prior(0.27);
  m->record_estimates(torch::tensor({0.6, 0.31, 0.27}, torch::kFloat64));
  auto loader = pu_loader(s, *m);
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(3).progress(false));
  trainer.fit();
  const auto path = (std::filesystem::path(::testing::TempDir()) / "pu_prior.ckpt").string();
  train::save_checkpoint(path, *m, nullptr, {3, 3, 1.0, cfg.dump()});
  auto fresh = methods::make_pu_method(cfg, s.spec);
  train::load_checkpoint(path, *fresh, nullptr);
  EXPECT_DOUBLE_EQ(fresh->prior(), 0.27);
  EXPECT_TRUE(torch::equal(fresh->recorded_estimates(), m->recorded_estimates()));
  EXPECT_DOUBLE_EQ(fresh->recorded_estimates()[2].item<double>(), 0.27);
}

TEST(PuMethods, DecisionsAfterCalibration) {
  init_runtime(2);
  const methods::DataSpec spec{1, 28, 2, 100, 10, 0};
  const auto scores = torch::tensor({-3.0, -0.5, 0.0, 0.5, 3.0}, torch::kFloat64);
  // nnPU: the sign of the score.
  auto nnpu = methods::make_pu_method(pu_test_config("nnpu"), spec);
  EXPECT_TRUE(torch::equal(nnpu->decision(scores) > 0, scores > 0));

  // VPU: Phi / max Phi over the unlabeled training images >= 1/2. With the largest unlabeled
  // score 2, Phi(2) = 0.881 and the boundary sits where Phi = 0.440, at a score of -0.240.
  auto vpu = methods::make_pu_method(pu_test_config("vpu"), spec);
  vpu->calibrate({torch::tensor({-1.0, 2.0, 0.5}), torch::Tensor()});
  const double boundary = -std::log(2.0 / (1.0 / (1.0 + std::exp(-2.0))) - 1.0);
  const auto around = torch::tensor({boundary - 1e-6, boundary + 1e-6}, torch::kFloat64);
  const auto v = vpu->decision(around);
  EXPECT_LT(v[0].item<double>(), 0);
  EXPECT_GT(v[1].item<double>(), 0);
  EXPECT_NEAR(vpu->calibration().at("log_max_phi").get<double>(), std::log(1.0 / (1.0 + std::exp(-2.0))), 1e-12);

  // Elkan-Noto: c = mean g on held-out positives; p(y = 1 | x) = ((1 - c) / c) g / (1 - g), which
  // is 1/2 at g = c / (2 - c) (c = 0.6: g = 0.4286).
  auto en = methods::make_pu_method(pu_test_config("elkan_noto"), spec);
  EXPECT_DOUBLE_EQ(*en->labeled_odds(), 1.0);
  const double c = 0.6, logit_c = std::log(c / (1 - c));
  en->calibrate({torch::Tensor(), torch::tensor({logit_c, logit_c}, torch::kFloat64)});
  EXPECT_NEAR(en->calibration().at("c").get<double>(), c, 1e-12);
  const double g_half = c / (2 - c), s_half = std::log(g_half / (1 - g_half));
  const auto e = en->decision(torch::tensor({s_half - 1e-6, s_half + 1e-6}, torch::kFloat64));
  EXPECT_LT(e[0].item<double>(), 0);
  EXPECT_GT(e[1].item<double>(), 0);
}

}  // namespace
