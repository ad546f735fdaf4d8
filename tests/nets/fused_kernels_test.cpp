// The ConvNet's own CPU kernels (functional::max_pool2x2, functional::batch_norm_train) against
// LibTorch's ops they replace, a float64 finite-difference gradient, and exact small cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/convnet.h"
#include "selfsup/nets/kernels.h"
#include "support/gradcheck.h"
#include "support/compare.h"

using namespace selfsup;

namespace {

// ---- max_pool2x2 -------------------------------------------------------------------------------

void expect_pool_matches_torch(std::vector<int64_t> shape, torch::ScalarType dtype) {
  torch::manual_seed(1);
  auto x = torch::randn(shape).to(dtype);
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto ya = functional::max_pool2x2(xa), yb = torch::max_pool2d(xb, 2, 2);
  ASSERT_EQ(ya.sizes(), yb.sizes());
  ASSERT_EQ(ya.scalar_type(), dtype);
  EXPECT_TRUE(torch::equal(ya, yb)) << shape;  // a max is exact in any dtype
  auto g = torch::randn(ya.sizes()).to(dtype);
  ya.backward(g);
  yb.backward(g);
  EXPECT_TRUE(torch::equal(xa.grad(), xb.grad())) << shape;
}

TEST(MaxPool2x2, MatchesTorchMaxPool2dInEveryDtype) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16}) {
    expect_pool_matches_torch({3, 4, 8, 6}, dtype);
    expect_pool_matches_torch({2, 3, 7, 5}, dtype);  // odd sides: the last row / column is dropped
  }
}

TEST(MaxPool2x2, ExactSmallCaseAndFirstMaximumWinsTies) {
  auto x = torch::tensor({1., 5., 2., 2., 3., 4., 2., 2.}, torch::kFloat64).view({1, 1, 2, 4}).requires_grad_();
  auto y = functional::max_pool2x2(x);
  EXPECT_TRUE(torch::equal(y, torch::tensor({5., 2.}, torch::kFloat64).view({1, 1, 1, 2})));
  y.backward(torch::tensor({10., 20.}, torch::kFloat64).view({1, 1, 1, 2}));
  // The second window is all 2s: its gradient goes to its first element only, as in torch.
  EXPECT_TRUE(torch::equal(x.grad(), torch::tensor({0., 10., 20., 0., 0., 0., 0., 0.}, torch::kFloat64).view({1, 1, 2, 4})));
}

TEST(MaxPool2x2, PropagatesNaN) {
  auto x = torch::zeros({1, 1, 2, 2});
  x[0][0][1][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(functional::max_pool2x2(x).item<float>()));
}

TEST(MaxPool2x2, FiniteDifferenceGradient) {
  auto x = torch::randn({2, 2, 4, 5}, torch::kFloat64).requires_grad_();
  auto r = selfsup::testing::gradcheck([](const std::vector<torch::Tensor>& in) { return functional::max_pool2x2(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
}

TEST(MaxPool2x2, ChannelsLastInputTakesTorchsPathWithTheSameResult) {
  auto x = torch::randn({2, 3, 6, 6});
  auto cl = x.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::equal(functional::max_pool2x2(cl).contiguous(), functional::max_pool2x2(x)));
}

TEST(MaxPool2x2, RejectsAnInputThatIsNotABatchOfImages) {
  try {
    functional::max_pool2x2(torch::randn({4, 4}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("max_pool2x2: expected input [N, C, H, W], got [4, 4]"), std::string::npos)
        << e.msg();
  }
}

// ---- batch_norm_train ---------------------------------------------------------------------------

struct BnCase {
  std::vector<int64_t> shape;
  torch::ScalarType dtype;
  bool affine, relu;
  double tol;
};

// Our fused kernel against torch::batch_norm (+ relu): output, every gradient, running stats.
void expect_bn_matches_torch(const BnCase& tc) {
  torch::manual_seed(2);
  const int64_t c = tc.shape[1];
  const auto acc = tc.dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto x = (torch::randn(tc.shape, torch::kFloat64) * 2 + 0.7).to(tc.dtype);
  torch::Tensor w, b;
  if (tc.affine) {
    w = torch::rand({c}, acc) + 0.5;
    b = torch::randn({c}, acc);
  }
  auto rm_a = torch::randn({c}, acc), rv_a = torch::rand({c}, acc) + 0.5;
  auto rm_b = rm_a.clone(), rv_b = rv_a.clone();
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  torch::Tensor wa, ba, wb, bb;
  if (tc.affine) {
    wa = w.clone().requires_grad_(), ba = b.clone().requires_grad_();
    wb = w.clone().requires_grad_(), bb = b.clone().requires_grad_();
  }
  auto ya = functional::batch_norm_train(xa, wa, ba, rm_a, rv_a, 0.1, 1e-5, tc.relu);
  auto yb = torch::batch_norm(xb, wb, bb, rm_b, rv_b, true, 0.1, 1e-5, false);
  if (tc.relu) yb = torch::relu(yb);
  ASSERT_EQ(ya.scalar_type(), tc.dtype);
  const std::string what = c10::str(tc.shape, " ", tc.dtype, " affine=", tc.affine, " relu=", tc.relu);
  EXPECT_LT(selfsup::testing::max_diff(ya, yb), tc.tol) << "forward " << what;
  auto g = torch::randn(tc.shape, torch::kFloat64).to(tc.dtype);
  ya.backward(g);
  yb.backward(g);
  EXPECT_LT(selfsup::testing::max_diff(xa.grad(), xb.grad()), tc.tol) << "dx " << what;
  if (tc.affine) {
    // Sums over N * H * W values: compare relative to their size.
    EXPECT_LT(selfsup::testing::max_diff(wa.grad(), wb.grad()), tc.tol * (1 + wb.grad().abs().max().item<double>())) << "dw " << what;
    EXPECT_LT(selfsup::testing::max_diff(ba.grad(), bb.grad()), tc.tol * (1 + bb.grad().abs().max().item<double>())) << "db " << what;
  }
  EXPECT_LT(selfsup::testing::max_diff(rm_a, rm_b), 1e-5) << "running_mean " << what;
  EXPECT_LT(selfsup::testing::max_diff(rv_a, rv_b), 1e-4) << "running_var " << what;
}

TEST(BatchNormTrain, MatchesTorchBatchNormAndRelu) {
  for (bool relu : {true, false}) {
    for (bool affine : {true, false}) {
      expect_bn_matches_torch({{6, 3, 5, 7}, torch::kFloat64, affine, relu, 1e-10});
      expect_bn_matches_torch({{16, 4, 9, 9}, torch::kFloat32, affine, relu, 2e-5});
      expect_bn_matches_torch({{5, 3, 11}, torch::kFloat32, affine, relu, 2e-5});  // BatchNorm1d over [N, C, L]
    }
  }
}

TEST(BatchNormTrain, BFloat16InputWithFloatParameters) {
  // What autocast hands the layer: a bf16 convolution output. Tolerance: bf16's 8-bit mantissa.
  expect_bn_matches_torch({{8, 4, 6, 6}, torch::kBFloat16, true, true, 0.05});
}

TEST(BatchNormTrain, NormalisesEachChannelExactly) {
  // Before the ReLU every channel has mean 0 and biased variance var / (var + eps).
  auto x = torch::randn({10, 3, 4, 4}, torch::kFloat64) * 3 + 5;
  auto y = functional::batch_norm_train(x, {}, {}, {}, {}, 0.1, 1e-5, false);
  auto mean = y.mean({0, 2, 3}), var = y.var({0, 2, 3}, /*unbiased=*/false);
  auto v = x.var({0, 2, 3}, false);
  EXPECT_LT(mean.abs().max().item<double>(), 1e-12);
  EXPECT_LT((var - v / (v + 1e-5)).abs().max().item<double>(), 1e-12);
  // With the ReLU: exactly the positive part of the same output.
  auto yr = functional::batch_norm_train(x, {}, {}, {}, {}, 0.1, 1e-5, true);
  EXPECT_TRUE(torch::equal(yr, y.clamp_min(0)));
}

TEST(BatchNormTrain, FiniteDifferenceGradient) {
  torch::manual_seed(3);
  auto x = torch::randn({4, 2, 3, 3}, torch::kFloat64).requires_grad_();
  auto w = (torch::rand({2}, torch::kFloat64) + 0.5).requires_grad_();
  auto b = (torch::randn({2}, torch::kFloat64) * 0.3).requires_grad_();
  for (bool relu : {false, true}) {
    auto r = selfsup::testing::gradcheck(
        [relu](const std::vector<torch::Tensor>& in) {
          return functional::batch_norm_train(in[0], in[1], in[2], {}, {}, 0.1, 1e-5, relu);
        },
        {x, w, b});
    EXPECT_TRUE(r.ok) << "relu=" << relu << " max abs error " << r.max_abs_error;
  }
}

TEST(BatchNormTrain, LetsNaNThrough) {
  auto x = torch::randn({4, 2, 3, 3});
  x[1][0][2][2] = std::numeric_limits<float>::quiet_NaN();
  auto y = functional::batch_norm_train(x, {}, {}, {}, {}, 0.1, 1e-5, true);
  EXPECT_TRUE(y.select(1, 0).isnan().all().item<bool>());  // the NaN reaches its channel's mean
  EXPECT_FALSE(y.select(1, 1).isnan().any().item<bool>());
}

TEST(BatchNormTrain, RejectsOneValuePerChannel) {
  try {
    functional::batch_norm_train(torch::randn({1, 3, 1, 1}), {}, {}, {}, {}, 0.1, 1e-5, true);
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("training needs more than 1 value per channel, got input [1, 3, 1, 1]"),
              std::string::npos)
        << e.msg();
  }
}

TEST(BatchNormTrain, ModuleWithReluIsBatchNormThenRelu) {
  nets::BatchNorm fused(nets::BatchNormOptions(3).relu(true)), plain(3);
  auto x = torch::randn({4, 3, 5, 5});
  EXPECT_TRUE(torch::allclose(fused->forward(x), torch::relu(plain->forward(x)), 1e-5, 1e-6)) << "training";
  fused->eval();
  plain->eval();
  EXPECT_TRUE(torch::allclose(fused->forward(x), torch::relu(plain->forward(x)), 1e-5, 1e-6)) << "eval";
}

// ---- batch_norm_relu_max_pool2x2 ------------------------------------------------------------------

// The fused layer against torch's max_pool2d(relu(batch_norm(x))): output, gradients, running stats.
void expect_fused_pool_matches_torch(std::vector<int64_t> shape, torch::ScalarType dtype, double tol) {
  torch::manual_seed(4);
  const int64_t c = shape[1];
  const auto acc = dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto x = (torch::randn(shape, torch::kFloat64) * 2 + 0.3).to(dtype);
  // A negative weight flips which input of a window wins; a large bias leaves whole windows at 0.
  auto w = torch::linspace(-1.5, 1.5, c, acc), b = torch::linspace(-2, 1, c, acc);
  auto rm_a = torch::zeros({c}, acc), rv_a = torch::ones({c}, acc), rm_b = rm_a.clone(), rv_b = rv_a.clone();
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto wa = w.clone().requires_grad_(), ba = b.clone().requires_grad_();
  auto wb = w.clone().requires_grad_(), bb = b.clone().requires_grad_();
  auto ya = functional::batch_norm_relu_max_pool2x2(xa, wa, ba, rm_a, rv_a, 0.1, 1e-5);
  auto yb = torch::max_pool2d(torch::relu(torch::batch_norm(xb, wb, bb, rm_b, rv_b, true, 0.1, 1e-5, false)), 2, 2);
  const std::string what = c10::str(shape, " ", dtype);
  ASSERT_EQ(ya.sizes(), yb.sizes()) << what;
  ASSERT_EQ(ya.scalar_type(), dtype);
  EXPECT_LT(selfsup::testing::max_diff(ya, yb), tol) << "forward " << what;
  auto g = torch::randn(ya.sizes(), torch::kFloat64).to(dtype);
  ya.backward(g);
  yb.backward(g);
  EXPECT_LT(selfsup::testing::max_diff(xa.grad(), xb.grad()), tol) << "dx " << what;
  EXPECT_LT(selfsup::testing::max_diff(wa.grad(), wb.grad()), tol * (1 + wb.grad().abs().max().item<double>())) << "dw " << what;
  EXPECT_LT(selfsup::testing::max_diff(ba.grad(), bb.grad()), tol * (1 + bb.grad().abs().max().item<double>())) << "db " << what;
  EXPECT_LT(selfsup::testing::max_diff(rm_a, rm_b), 1e-5) << "running_mean " << what;
  EXPECT_LT(selfsup::testing::max_diff(rv_a, rv_b), 1e-4) << "running_var " << what;
}

TEST(BatchNormReluMaxPool, MatchesTorchBatchNormReluMaxPool) {
  expect_fused_pool_matches_torch({5, 4, 6, 8}, torch::kFloat64, 1e-10);
  expect_fused_pool_matches_torch({16, 6, 14, 14}, torch::kFloat32, 2e-5);
  expect_fused_pool_matches_torch({3, 4, 7, 5}, torch::kFloat64, 1e-10);  // odd sides: rows / columns in no window
  expect_fused_pool_matches_torch({8, 4, 8, 8}, torch::kBFloat16, 0.05);
}

TEST(BatchNormReluMaxPool, FiniteDifferenceGradient) {
  torch::manual_seed(5);
  auto x = torch::randn({3, 2, 4, 5}, torch::kFloat64).requires_grad_();
  auto w = torch::tensor({0.8, -1.2}, torch::kFloat64).requires_grad_();
  auto b = torch::tensor({0.1, 0.3}, torch::kFloat64).requires_grad_();
  auto r = selfsup::testing::gradcheck(
      [](const std::vector<torch::Tensor>& in) {
        return functional::batch_norm_relu_max_pool2x2(in[0], in[1], in[2], {}, {}, 0.1, 1e-5);
      },
      {x, w, b});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(BatchNormReluMaxPool, ConvNetTrainsExactlyAsTorchLayersWould) {
  // The ConvNet fuses BN - ReLU - pool: its output and gradients must be those of the same
  // layers run one by one with torch's own ops.
  torch::manual_seed(6);
  nets::ConvNet net(nets::ConvNetOptions(1).channels({4, 6, 8}));
  torch::nn::Sequential ref(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1).bias(false)),
                            torch::nn::BatchNorm2d(4), torch::nn::ReLU(), torch::nn::MaxPool2d(2),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 6, 3).padding(1).bias(false)),
                            torch::nn::BatchNorm2d(6), torch::nn::ReLU(), torch::nn::MaxPool2d(2),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 8, 3).padding(1).bias(false)),
                            torch::nn::BatchNorm2d(8), torch::nn::ReLU());
  {
    torch::NoGradGuard no_grad;
    auto src = net->named_parameters();
    auto dst = ref->parameters();
    ASSERT_EQ(src.size(), dst.size());
    for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i].value());
  }
  auto x = torch::randn({6, 1, 12, 12});
  auto ya = net->forward(x), yb = ref->forward(x).mean({2, 3});
  EXPECT_LT(selfsup::testing::max_diff(ya, yb), 1e-5);
  auto g = torch::randn(ya.sizes());
  ya.backward(g);
  yb.backward(g);
  auto pa = net->parameters(), pb = ref->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_LT(selfsup::testing::max_diff(pa[i].grad(), pb[i].grad()), 1e-4 * (1 + pb[i].grad().abs().max().item<double>())) << "parameter " << i;
  }
  auto ba = net->buffers(), bb = ref->buffers();
  for (size_t i = 0; i < ba.size(); ++i) EXPECT_LT(selfsup::testing::max_diff(ba[i], bb[i]), 1e-5) << "buffer " << i;
}

}  // namespace
