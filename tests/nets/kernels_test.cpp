// nets/kernels.h's choices for the ConvNet: the layout a forward pass keeps between its layers,
// that its layers give the same result in either layout, and that a float32 training pass (the
// blocked kernels, where this build has them) matches the same network in float64 (NCHW, and
// torch's ops where the kernels do not take float64).
#include <gtest/gtest.h>

#include "selfsup/nets/convnet.h"
#include "selfsup/nets/kernels.h"
#include "selfsup/train/precision.h"
#include "support/compare.h"

using namespace selfsup;
using functional::Layout;

namespace {

TEST(Kernels, BlockedLayoutOnlyForFloat32CpuTrainingWithWidthsThatFillBlocks) {
  auto images = torch::randn({2, 1, 8, 8});
  const std::vector<int64_t> widths{32, 64};
  const auto blocked = functional::conv3x3_uses_onednn() ? Layout::kBlocked16 : Layout::kNCHW;
  EXPECT_EQ(nets::kernels::activation_layout(images, /*training=*/true, widths), blocked);
  EXPECT_EQ(nets::kernels::activation_layout(images, /*training=*/false, widths), Layout::kNCHW);
  EXPECT_EQ(nets::kernels::activation_layout(images.to(torch::kFloat64), true, widths), Layout::kNCHW);
  EXPECT_EQ(nets::kernels::activation_layout(images, true, std::vector<int64_t>{32, 24}), Layout::kNCHW);
  train::AutocastScope bf16(true, torch::kCPU);
  EXPECT_EQ(nets::kernels::activation_layout(images, true, widths), Layout::kNCHW);
}

// conv - BN - ReLU - pool - conv - BN - ReLU - mean through the layer-level entry points.
struct Pass {
  torch::Tensor features, dw1, dw2, running_mean;
};

Pass layers_in(Layout layout, const torch::Tensor& images, const torch::Tensor& w1, const torch::Tensor& w2,
               bool training) {
  auto a = w1.clone().requires_grad_(), b = w2.clone().requires_grad_();
  auto bn = [](int64_t c) {
    return nets::kernels::BatchNormArgs{torch::ones({c}), torch::zeros({c}), torch::zeros({c}), torch::ones({c}),
                                        0.1, 1e-5, /*relu=*/true};
  };
  const auto bn1 = bn(16), bn2 = bn(32);
  nets::kernels::Activation x{images};
  x = nets::kernels::conv3x3(x, a, layout);
  EXPECT_EQ(x.layout, layout);
  x = nets::kernels::batch_norm(x, bn1, training, /*pool=*/true);
  EXPECT_EQ(x.layout, layout);
  x = nets::kernels::conv3x3(x, b, layout);
  x = nets::kernels::batch_norm(x, bn2, training, /*pool=*/false);
  auto y = nets::kernels::global_mean(x);
  y.pow(2).sum().backward();
  return {y.detach(), a.grad(), b.grad(), bn2.running_mean};
}

TEST(Kernels, ConvNetLayersAgreeInEitherLayout) {
  torch::manual_seed(12);
  auto images = torch::randn({4, 1, 10, 10});
  auto w1 = torch::randn({16, 1, 3, 3}) * 0.3, w2 = torch::randn({32, 16, 3, 3}) * 0.1;
  for (bool training : {true, false}) {
    const auto plain = layers_in(Layout::kNCHW, images, w1, w2, training);
    const auto blocked = layers_in(Layout::kBlocked16, images, w1, w2, training);
    ASSERT_EQ(blocked.features.sizes(), (std::vector<int64_t>{4, 32}));
    EXPECT_LT(selfsup::testing::max_diff(blocked.features, plain.features), 1e-5) << training;
    EXPECT_LT(selfsup::testing::max_diff(blocked.dw1, plain.dw1), 1e-4 * (1 + plain.dw1.abs().max().item<double>())) << training;
    EXPECT_LT(selfsup::testing::max_diff(blocked.dw2, plain.dw2), 1e-4 * (1 + plain.dw2.abs().max().item<double>())) << training;
    EXPECT_LT(selfsup::testing::max_diff(blocked.running_mean, plain.running_mean), 1e-5) << training;
  }
}

TEST(Kernels, ConvNetTrainingPassMatchesFloat64) {
  torch::manual_seed(13);
  for (int64_t in : {1, 3}) {  // the stem kernel, and oneDNN from the first layer
    nets::ConvNet f32(nets::ConvNetOptions(in).channels({16, 32}).blocks_per_stage(2));
    auto f64 = std::dynamic_pointer_cast<nets::ConvNetImpl>(f32->clone());
    f64->to(torch::kFloat64);
    auto images = torch::randn({6, in, 12, 12});
    auto y32 = f32->forward(images), y64 = f64->forward(images.to(torch::kFloat64));
    y32.pow(2).sum().backward();
    y64.pow(2).sum().backward();
    EXPECT_LT(selfsup::testing::max_diff(y32, y64), 1e-4 * (1 + y64.abs().max().item<double>())) << in;
    const auto p32 = f32->named_parameters(), p64 = f64->named_parameters();
    for (const auto& p : p64) {
      const auto& g32 = p32[p.key()].grad();
      EXPECT_LT(selfsup::testing::max_diff(g32, p.value().grad()), 1e-3 * (1 + p.value().grad().abs().max().item<double>()))
          << in << " " << p.key();
    }
    const auto b32 = f32->named_buffers(), b64 = f64->named_buffers();
    for (const auto& b : b64) EXPECT_LT(selfsup::testing::max_diff(b32[b.key()], b.value()), 1e-4) << in << " " << b.key();
  }
}

}  // namespace
