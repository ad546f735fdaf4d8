// `semi --init`: what a semi-supervised classifier takes from a pretrain checkpoint.
#include <gtest/gtest.h>

#include <filesystem>

#include "selfsup/methods/semi.h"
#include "selfsup/run/pretrain.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/transfer.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;
namespace fs = std::filesystem;

namespace {

const char* kPretrain = R"(
method: {name: simclr, proj_hidden_dim: 24, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 128}
model: {backbone: convnet, channels: [8, 16, 32]}
train: {batch_size: 32, lr: 0.05, max_steps: 3, threads: 1}
seed: 5
)";

/// A tiny SimCLR checkpoint, trained a few steps so that its BatchNorm statistics are not the
/// defaults a fresh layer would also have.
std::string pretrained(const std::string& name) {
  const auto dir = (fs::path(::testing::TempDir()) / ("selfsup_semi_init_" + name)).string();
  fs::remove_all(dir);
  run::RunOptions ro;
  ro.out_dir = dir;
  ro.quiet = true;
  ro.evaluate = false;
  run::pretrain(Config::parse(kPretrain), ro);
  return dir + "/last.ckpt";
}

std::shared_ptr<methods::SemiMethodImpl> fixmatch(int64_t hidden, const methods::DataSpec& spec) {
  auto cfg = Config::parse(R"(
method: {name: fixmatch}
model: {backbone: convnet, channels: [8, 16, 32]}
)");
  cfg.set("model.classifier_hidden_dim=" + std::to_string(hidden));
  return methods::make_semi_method(cfg, spec);
}

}  // namespace

TEST(SemiInit, CopiesTheEncoderAndTheProjectorsFirstLayerIntoStudentAndEma) {
  const auto ckpt = pretrained("copy");
  const methods::DataSpec spec;
  auto source = methods::make_method(Config::parse(kPretrain), spec);
  train::load_checkpoint(ckpt, *source, nullptr);
  const auto from = source->named_parameters();
  const auto from_buffers = source->named_buffers();

  auto m = fixmatch(24, spec);
  train::init_from_pretrained(ckpt, *m, spec);
  for (auto* c : {&m->student, &m->ema}) {
    const auto mine = (*c)->named_parameters();
    for (const auto& kv : source->encoder()->named_parameters()) {
      EXPECT_TRUE(torch::equal(mine["backbone." + kv.key()], kv.value())) << kv.key();
    }
    // SimCLRv2: Linear (layers.0) and BatchNorm (layers.1) of the projector, ReLU after them.
    EXPECT_TRUE(torch::equal(mine["hidden.0.weight"], from["projector.layers.0.weight"]));
    EXPECT_TRUE(torch::equal(mine["hidden.0.bias"], from["projector.layers.0.bias"]));
    EXPECT_TRUE(torch::equal(mine["hidden.1.weight"], from["projector.layers.1.weight"]));
    const auto buffers = (*c)->named_buffers();
    EXPECT_TRUE(torch::equal(buffers["hidden.1.running_mean"], from_buffers["projector.layers.1.running_mean"]));
    EXPECT_FALSE(torch::equal(buffers["hidden.1.running_mean"], torch::zeros({24})));
  }
  // The classifier reads the hidden layer: logits come through it, 10 classes wide.
  auto x = torch::randn({4, 1, 28, 28});
  m->student->eval();
  auto features = m->student->backbone->forward(x);
  auto through = m->student->head->forward(m->student->hidden->forward(features));
  EXPECT_TRUE(torch::allclose(m->student->forward(x), through));
  EXPECT_EQ(through.size(1), 10);
}

TEST(SemiInit, AHiddenLayerOfAnotherWidthThanTheProjectorIsRefusedByName) {
  const auto ckpt = pretrained("mismatch");
  const methods::DataSpec spec;
  auto m = fixmatch(40, spec);
  const auto msg = error_of([&] { train::init_from_pretrained(ckpt, *m, spec); });
  EXPECT_NE(msg.find("projector.layers.0.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.classifier_hidden_dim 40"), std::string::npos) << msg;
  // Without a hidden layer only the encoder is taken, as before.
  auto plain = fixmatch(0, spec);
  EXPECT_FALSE(plain->student->hidden);
  EXPECT_NO_THROW(train::init_from_pretrained(ckpt, *plain, spec));
  EXPECT_NE(error_of([&] { fixmatch(-1, spec); }).find("model.classifier_hidden_dim must be >= 0"), std::string::npos);
}

TEST(SemiInit, AnEncoderOfAnotherShapeIsRefusedByName) {
  const auto ckpt = pretrained("other_encoder");
  const methods::DataSpec spec;
  auto cfg = Config::parse("{method: {name: fixmatch}, model: {backbone: convnet, channels: [8, 16, 64]}}");
  auto m = methods::make_semi_method(cfg, spec);
  const auto msg = error_of([&] { train::init_from_pretrained(ckpt, *m, spec); });
  EXPECT_NE(msg.find("--init " + ckpt + ": its encoder"), std::string::npos) << msg;
  EXPECT_NE(msg.find(".weight' of shape [32, 16, 3, 3])"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(shape [64, 16, 3, 3])"), std::string::npos) << msg;
}
