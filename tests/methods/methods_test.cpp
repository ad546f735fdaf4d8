// Every registered method: a short run on a small Fashion-MNIST subset whose loss falls, and
// whose representation does not collapse.
#include <gtest/gtest.h>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/common.h"
#include "selfsup/methods/mae.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/mae.h"
#include "selfsup/train/trainer.h"
#include "support/error_of.h"
#include "support/method_keys.h"
#include "support/series.h"

using namespace selfsup;

namespace {

Config small_config(const std::string& method) {
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 512}
model: {backbone: convnet, channels: [8, 16, 32]}
method:
  proj_hidden_dim: 64
  proj_output_dim: 32
  pred_hidden_dim: 32
  queue_size: 256
train: {batch_size: 64, lr: 0.05, optimizer: sgd, weight_decay: 0.0, threads: 2}
augment: {pipeline: simclr}
)");
  return selfsup::testing::for_method(cfg, method);
}

struct RunTrace {
  std::vector<double> losses;
  std::vector<double> z_std;
};

RunTrace short_run(const std::string& name, int64_t steps) {
  auto cfg = small_config(name);
  init_runtime(2);
  seed_everything(7);
  auto splits = data::load_dataset(cfg);
  auto norm = train::Normalization::from_config(cfg, splits.train.images);
  methods::DataSpec spec{1, 28, 10};
  auto method = methods::make_method(cfg, spec);
  auto views = train::views_from_config(cfg, 1, 28, method->num_views());
  train::ViewLoader loader(splits.train, views, norm, train::LoaderOptions().batch_size(64).seed(3), torch::kCPU);
  train::Trainer trainer(cfg, method, loader, train::TrainerOptions().max_steps(steps).progress(false));
  RunTrace trace;
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput& out) {
    trace.losses.push_back(loss);
    if (out.metrics.count("z_std")) trace.z_std.push_back(out.metrics.at("z_std"));
  });
  trainer.fit();
  return trace;
}


class MethodRun : public ::testing::TestWithParam<std::string> {};

TEST_P(MethodRun, LossFallsWithoutCollapse) {
  const int64_t steps = 40;
  auto trace = short_run(GetParam(), steps);
  ASSERT_EQ(trace.losses.size(), static_cast<size_t>(steps));
  // The first window starts once MoCo's queue (256 keys, 64 a step) holds real keys: against the
  // random unit vectors it starts with, the loss is artificially low.
  const double first = selfsup::testing::window_mean(trace.losses, 5, 13), last = selfsup::testing::window_mean(trace.losses, steps - 8, steps);
  EXPECT_LT(last, first) << GetParam() << ": loss did not fall (first " << first << ", last " << last << ")";
  ASSERT_FALSE(trace.z_std.empty());
  // Collapse drives the per-feature std of normalised outputs to 0; healthy is ~1/sqrt(D) = 0.18.
  EXPECT_GT(trace.z_std.back(), 0.02) << GetParam() << " collapsed";
}

INSTANTIATE_TEST_SUITE_P(AllMethods, MethodRun,
                         ::testing::Values("simclr", "mocov2", "mocov3", "byol", "simsiam", "barlow_twins",
                                           "vicreg", "supcon"),
                         [](const auto& info) { return info.param; });

TEST(Registry, ListsEveryMethodAndRejectsUnknownNames) {
  auto names = methods::Registry::instance().list();
  EXPECT_GE(names.size(), 8u);
  try {
    methods::Registry::instance().get("simclrr");
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("simclrr"), std::string::npos);
    EXPECT_NE(e.msg().find("simclr"), std::string::npos);
  }
}

// Each method declares its keys with their defaults in one place. Building a method from a config
// that spells out every declared key at its default must read every one of them and give the
// very weights the defaults alone give: a key declared but not read, or read with a default of
// its own, fails here.
TEST(MethodKeys, EveryDeclaredKeyIsReadAndItsDefaultIsTheOneUsed) {
  const methods::DataSpec image_spec{1, 28, 10, 500, 100, 0};
  methods::DataSpec text_spec{0, 0, 0, 0, 0, 0};
  text_spec.vocab_size = 50, text_spec.mask_token = 4;
  const auto convnet = Config::parse("{model: {backbone: convnet, channels: [8, 16, 32]}}");
  const auto vit = Config::parse("{model: {backbone: vit_mini}}");  // MAE's encoder
  const auto none = Config::parse("{}");                            // the text encoder's keys are its methods'
  for (const auto& info : methods::Registry::instance().list()) {
    const bool text = info.kind == methods::Kind::kTextEmbedding;
    const auto& base = text ? none : info.name == "mae" ? vit : convnet;
    const auto& spec = text ? text_spec : image_spec;
    auto given = Config::parse(base.dump());
    given.set("method.name", YAML::Node(info.name));
    ASSERT_FALSE(info.keys.list().empty()) << info.name;
    for (const auto& k : info.keys.list()) {
      EXPECT_FALSE(k.help.empty()) << info.name << " " << k.key;
      EXPECT_TRUE(k.key.rfind("method.", 0) == 0 || k.key.rfind("model.", 0) == 0) << info.name << " " << k.key;
      given.set(k.key, k.default_value);
    }
    auto implicit = Config::parse(base.dump());
    implicit.set("method.name", YAML::Node(info.name));
    seed_everything(1);
    const auto a = methods::make_method(given, spec);
    seed_everything(1);
    const auto b = methods::make_method(implicit, spec);
    for (const auto& key : given.unused_keys()) {
      EXPECT_TRUE(key.rfind("method.", 0) != 0 && key != "model.classifier_hidden_dim")
          << info.name << " declares " << key << " but never reads it";
    }
    const auto pa = a->named_parameters(), pb = b->named_parameters();
    ASSERT_EQ(pa.size(), pb.size()) << info.name;
    for (const auto& kv : pa) EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << info.name << " " << kv.key();
  }
}

TEST(MethodKeys, AnUndeclaredKeyIsRefusedNamingTheMethodsKeys) {
  auto cfg = Config::parse("{method: {name: fixmatch, thresold: 0.9}, model: {backbone: convnet, channels: [8, 16, 32]}}");
  const auto msg = selfsup::testing::error_of([&] { methods::make_method(cfg, {1, 28, 10, 500, 100, 0}); });
  EXPECT_NE(msg.find("config key 'method.thresold' in <inline> is not a key of method fixmatch"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("method.threshold"), std::string::npos) << msg;
  EXPECT_NE(msg.find("`selfsup methods fixmatch`"), std::string::npos) << msg;
}

TEST(MethodKeys, KindsDecideWhichCommandTrainsAMethod) {
  const auto& r = methods::Registry::instance();
  EXPECT_EQ(r.get("simclr").kind, methods::Kind::kSelfSupervised);
  EXPECT_EQ(r.get("fixmatch").kind, methods::Kind::kSemiSupervised);
  EXPECT_EQ(r.get("supervised").kind, methods::Kind::kSupervised);
  EXPECT_EQ(r.names({methods::Kind::kSupervised}), "co_teaching, elr, gce, soft_label, supervised");
  EXPECT_EQ(r.names({methods::Kind::kTextEmbedding}), "consert, mlm, simcse, simcse_sup");
  auto cfg = Config::parse("{method: {name: fixmatch}, model: {backbone: convnet, channels: [8, 16, 32]}}");
  const auto msg = selfsup::testing::error_of([&] {
    methods::make_method(cfg, {1, 28, 10, 500, 100, 0}, {methods::Kind::kSelfSupervised, methods::Kind::kSupervised});
  });
  EXPECT_NE(msg.find("method 'fixmatch' is semi-supervised; this command trains barlow_twins, byol"), std::string::npos)
      << msg;
}

TEST(Momentum, CosineScheduleEndpointsAndUpdateRule) {
  EXPECT_DOUBLE_EQ(methods::cosine_momentum(0.99, 1.0, 0, 100), 0.99);
  EXPECT_DOUBLE_EQ(methods::cosine_momentum(0.99, 1.0, 100, 100), 1.0);
  EXPECT_NEAR(methods::cosine_momentum(0.99, 1.0, 50, 100), 0.995, 1e-12);
  torch::nn::Linear a(3, 2), b(3, 2);
  auto a0 = a->weight.detach().clone(), b0 = b->weight.detach().clone();
  methods::momentum_update(*a, *b, 0.9);
  EXPECT_TRUE(torch::allclose(a->weight, 0.9 * a0 + 0.1 * b0));
  EXPECT_TRUE(torch::equal(b->weight, b0));
}

}  // namespace

// ---- MAE -----------------------------------------------------------------------------------------

namespace {

Config mae_config() {
  return Config::parse(R"(
method: {name: mae, decoder_dim: 32, decoder_depth: 1, decoder_heads: 2}
data: {name: fashion-mnist, limit: 512}
model: {backbone: vit_mini, dim: 32, depth: 2, heads: 2}
train: {batch_size: 64, lr: 2.0e-3, optimizer: adamw, betas: [0.9, 0.95], weight_decay: 0.05, threads: 2}
augment: {pipeline: [{op: random_resized_crop, size: 28, scale: [0.2, 1.0]}, {op: hflip, p: 0.5}]}
)");
}

}  // namespace

TEST(Mae, LossFallsAndTheReconstructionKeepsTheVisiblePatches) {
  auto cfg = mae_config();
  init_runtime(2);
  seed_everything(7);
  auto splits = data::load_dataset(cfg);
  auto norm = train::Normalization::from_config(cfg, splits.train.images);
  auto method = methods::make_method(cfg, {1, 28, 10, 0, 0, 11});
  ASSERT_EQ(method->num_views(), 1);
  auto views = train::views_from_config(cfg, 1, 28, 1);
  train::ViewLoader loader(splits.train, views, norm, train::LoaderOptions().batch_size(64).seed(3), torch::kCPU);
  train::Trainer trainer(cfg, method, loader, train::TrainerOptions().max_steps(60).progress(false));
  std::vector<double> losses;
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput&) { losses.push_back(loss); });
  trainer.fit();
  const double first = selfsup::testing::window_mean(losses, 0, 8), last = selfsup::testing::window_mean(losses, 52, 60);
  EXPECT_LT(last, 0.9 * first) << "MAE loss did not fall: first " << first << ", last " << last;

  // The encoder's position embedding is MAE's fixed sine-cosine one.
  const auto params = method->named_parameters();
  ASSERT_TRUE(params.contains("backbone.pos_embed"));
  EXPECT_FALSE(params["backbone.pos_embed"].requires_grad());
  EXPECT_TRUE(torch::allclose(params["backbone.pos_embed"][0], nets::sincos_pos_embed_2d(32, 7)));

  auto* model = dynamic_cast<methods::Reconstructs*>(method.get());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->num_patches(), 49);
  const auto x = norm.apply(splits.test.images.narrow(0, 0, 4).to(torch::kFloat).div(255));
  const auto r = model->reconstruct(x, torch::rand({4, 49}));
  ASSERT_EQ(r.pasted.sizes(), x.sizes());
  EXPECT_EQ(r.mask.sum().item<float>(), 4.f * (49 - 12));
  // Visible patches are the input's in `masked` and `pasted`; hidden ones come from the decoder.
  const auto visible = (1 - nets::unpatchify(r.mask.unsqueeze(-1).expand({4, 49, 16}), 4, 1)).to(torch::kBool);
  EXPECT_TRUE(torch::allclose(r.pasted.masked_select(visible), x.masked_select(visible)));
  EXPECT_TRUE(torch::allclose(r.masked.masked_select(visible), x.masked_select(visible)));
  EXPECT_EQ(r.masked.masked_select(visible.logical_not()).abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(torch::allclose(r.pasted.masked_select(visible.logical_not()),
                              r.reconstructed.masked_select(visible.logical_not())));
}

TEST(Mae, BadSettingsAreRefusedNamingThem) {
  const methods::DataSpec spec{1, 28, 10, 0, 0, 0};
  auto with = [](const std::string& assignment) {
    auto cfg = mae_config();
    cfg.set(assignment);
    return cfg;
  };
  EXPECT_NE(selfsup::testing::error_of([&] { methods::make_method(with("model.backbone=convnet"), spec); })
                .find("mae needs a ViT encoder: model.backbone must be vit or vit_mini, got convnet"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { methods::make_method(with("method.decoder_dim=64"), spec); })
                .find("method.decoder_dim must be at most the encoder's width (model.dim = 32), got 64"),
            std::string::npos);
  for (const char* r : {"method.mask_ratio=1.0", "method.mask_ratio=0", "method.mask_ratio=-0.2"}) {
    EXPECT_NE(selfsup::testing::error_of([&] { methods::make_method(with(r), spec); }).find("method.mask_ratio must be in (0, 1)"),
              std::string::npos)
        << r;
  }
  EXPECT_NE(selfsup::testing::error_of([&] { methods::make_method(with("model.patch_size=5"), spec); })
                .find("not divisible by patch_size 5"),
            std::string::npos);
}
