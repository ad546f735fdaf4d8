// The same code on another device. Where LibTorch sees a CUDA device, one training step of every
// self-supervised method gives the CPU step's loss and gradients there, and a short run trains
// on it and writes a checkpoint that loads on the CPU; every semi-supervised method runs through
// `selfsup semi`'s own path there. Where there is none (CI, this project's
// CPU machines) the tests are skipped, not passed: a GPU session runs them.
#include <ATen/Context.h>

#include <algorithm>

#include "selfsup/run/semi.h"
#include "selfsup/train/checkpoint.h"
#include "train_test_util.h"

using namespace selfsup;

namespace {

bool cuda_present() { return torch::cuda::is_available(); }

/// TF32 would make the CUDA step differ from the CPU step by ~1e-3 on its own.
void strict_fp32() {
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
}

methods::Batch to_device(const methods::Batch& b, torch::Device d) {
  methods::Batch out = b;
  for (auto& v : out.views) v = v.to(d);
  if (b.labels.defined()) out.labels = b.labels.to(d);
  if (b.indices.defined()) out.indices = b.indices.to(d);
  return out;
}

/// Differences relative to the largest gradient of the whole model: the bias of a layer that
/// feeds a BatchNorm has an exactly zero gradient, so both devices give rounding noise there.
double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.detach().to(torch::kCPU, torch::kDouble) - b.detach().to(torch::kCPU, torch::kDouble)).abs().max().item<double>();
}

/// The tiny run's data, normalisation and what a method needs to know of them.
struct TinyData {
  data::DataSplits data;
  train::Normalization norm;
  methods::DataSpec spec;
};

TinyData tiny_data(const Config& cfg) {
  init_runtime(1);
  TinyData t;
  t.data = data::load_dataset(cfg);
  t.norm = train::Normalization::from_config(cfg, t.data.train.images);
  t.spec = {t.data.train.channels(), t.data.train.height(), t.data.train.num_classes()};
  return t;
}

class OnCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(OnCuda, OneStepGivesTheCpuLossAndGradients) {
  if (!cuda_present()) GTEST_SKIP() << "no CUDA device in this build or machine";
  strict_fp32();
  auto cfg = trainutil::tiny_config(GetParam());
  auto [data, norm, spec] = tiny_data(cfg);
  seed_everything(7);
  auto cpu = methods::make_method(cfg, spec);
  seed_everything(7);
  auto gpu = methods::make_method(cfg, spec);
  gpu->to(torch::kCUDA);
  auto views = train::views_from_config(cfg, spec.channels, spec.image_size, cpu->num_views());
  train::ViewLoader loader(data.train, views, norm, train::LoaderOptions().batch_size(32).seed(3), torch::kCPU);
  const auto batch = loader.batch_at(0);

  auto lc = cpu->training_step(batch).loss;
  auto lg = gpu->training_step(to_device(batch, torch::kCUDA)).loss;
  ASSERT_EQ(lg.device().type(), torch::kCUDA);
  lc.backward();
  lg.backward();
  EXPECT_NEAR(lc.item<double>(), lg.item<double>(), 1e-4 * (1 + std::abs(lc.item<double>()))) << GetParam();
  auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  double scale = 0;
  for (const auto& item : pc)
    if (item.value().grad().defined()) scale = std::max(scale, item.value().grad().abs().max().item<double>());
  ASSERT_GT(scale, 0) << GetParam() << ": no gradient reached the parameters";
  for (const auto& item : pc) {
    const auto& gc = item.value().grad();
    const auto& gg = pg[item.key()].grad();
    ASSERT_EQ(gc.defined(), gg.defined()) << item.key();
    if (!gc.defined()) continue;
    EXPECT_LT(max_difference(gc, gg) / scale, 5e-4) << GetParam() << ": gradient of " << item.key();
  }
}

INSTANTIATE_TEST_SUITE_P(SelfSupervised, OnCuda,
                         ::testing::Values("simclr", "mocov2", "mocov3", "byol", "simsiam", "barlow_twins", "vicreg",
                                           "supcon"),
                         [](const auto& info) { return info.param; });

TEST(OnCudaRun, TrainsInBf16AndItsCheckpointLoadsOnTheCpu) {
  if (!cuda_present()) GTEST_SKIP() << "no CUDA device in this build or machine";
  auto cfg = trainutil::tiny_config("simclr");
  auto [data, norm, spec] = tiny_data(cfg);
  seed_everything(11);
  auto method = methods::make_method(cfg, spec);
  method->to(torch::kCUDA);
  auto views = train::views_from_config(cfg, spec.channels, spec.image_size, method->num_views());
  train::ViewLoader loader(data.train, views, norm, train::LoaderOptions().batch_size(32).seed(3), torch::kCUDA);
  const auto dir = trainutil::fresh_dir("cuda_run");
  train::RunDir run_dir(dir, train::RunMode::kFresh);
  train::Trainer trainer(cfg, method, loader, train::TrainerOptions().max_steps(6).precision("bf16").progress(false),
                         run_dir);
  run_dir.start(cfg);
  std::vector<double> losses;
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput&) { losses.push_back(loss); });
  trainer.fit();
  ASSERT_EQ(losses.size(), 6u);
  for (double l : losses) EXPECT_TRUE(std::isfinite(l));

  seed_everything(12);  // different initial weights: the load must replace them
  auto on_cpu = methods::make_method(cfg, spec);
  train::load_checkpoint((std::filesystem::path(dir) / "last.ckpt").string(), *on_cpu, nullptr);
  auto trained = method->named_parameters();
  for (const auto& item : on_cpu->named_parameters()) {
    ASSERT_EQ(item.value().device().type(), torch::kCPU);
    EXPECT_TRUE(torch::equal(item.value(), trained[item.key()].detach().cpu())) << item.key();
  }
}

// Every semi-supervised method through the library form of `selfsup semi` on CUDA, loader and
// evaluation included. The first GPU sweep found FlexMatch failing here: the loader left the
// batch's dataset indices on the CPU, and FlexMatch indexes its device-side memory by them.
class SemiOnCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(SemiOnCuda, RunsThroughTheSemiCommandsPath) {
  if (!cuda_present()) GTEST_SKIP() << "no CUDA device in this build or machine";
  auto cfg = Config::parse(R"(
data: {name: fashion-mnist, limit: 1000, labels_per_class: 4, val_per_class: 4}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 16, max_steps: 3, lr: 0.03, optimizer: sgd, threads: 1}
method: {mu: 2}
device: cuda
precision: bf16
)");
  cfg = selfsup::testing::for_method(cfg, GetParam());
  run::RunOptions o;
  o.out_dir = trainutil::fresh_dir("semi_cuda_" + GetParam());
  o.quiet = true;
  const auto summary = run::semi(cfg, o);
  EXPECT_EQ(summary.at("steps").get<int64_t>(), 3);
  EXPECT_TRUE(summary.contains("test_acc_ema"));
}

INSTANTIATE_TEST_SUITE_P(SemiSupervised, SemiOnCuda,
                         ::testing::Values("supervised", "pseudo_label", "pi_model", "mean_teacher", "vat",
                                           "mixmatch", "fixmatch", "flexmatch", "simmatch", "uda"),
                         [](const auto& info) { return info.param; });

}  // namespace
