// The ConvNet's kernels in oneDNN's blocked layout nChw16c (functional::Layout) against the same kernels in
// NCHW, which fused_kernels_test.cpp and stem_conv_test.cpp check against torch's own ops: the
// output, every gradient and the running statistics, for float64, float32 and bfloat16.
#include <gtest/gtest.h>

#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/kernels.h"
#include "support/compare.h"

using namespace selfsup;
using functional::from_blocked16;
using functional::Layout;
using functional::to_blocked16;

namespace {

// Agreement to rounding: the blocked loops use fused multiply-adds, the NCHW ones may not.
double tolerance(torch::ScalarType t) {
  return t == torch::kFloat64 ? 1e-11 : t == torch::kFloat32 ? 2e-5 : 5e-2;
}

TEST(BlockedLayout, ChannelsAreBlocksOf16InterleavedAtEachPixel) {
  auto x = torch::arange(2 * 32 * 3 * 5, torch::kFloat32).view({2, 32, 3, 5});
  auto b = to_blocked16(x);
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{2, 2, 3, 5, 16}));
  EXPECT_EQ(b[1][1][2][4][7].item<float>(), x[1][16 + 7][2][4].item<float>());
  EXPECT_EQ(b.view(-1)[16].item<float>(), x[0][0][0][1].item<float>());  // the next pixel's first lane
  EXPECT_TRUE(torch::equal(from_blocked16(b), x));
  EXPECT_THROW(to_blocked16(torch::zeros({2, 24, 3, 3})), c10::Error);
  EXPECT_THROW(from_blocked16(torch::zeros({2, 24, 3, 3})), c10::Error);
}

struct Trained {
  torch::Tensor y, dx, dw, db, running_mean, running_var;
};

// One training step of the BN layer (pooled or not) in `layout`; results in NCHW.
Trained bn_step(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, const torch::Tensor& g,
                bool pool, bool relu, Layout layout) {
  const bool blocked = layout == Layout::kBlocked16;
  auto xi = (blocked ? to_blocked16(x) : x.clone()).requires_grad_();
  auto wi = w.clone().requires_grad_(), bi = b.clone().requires_grad_();
  auto rm = torch::zeros_like(w), rv = torch::ones_like(w);
  auto y = pool ? functional::batch_norm_relu_max_pool2x2(xi, wi, bi, rm, rv, 0.1, 1e-5, layout)
                : functional::batch_norm_train(xi, wi, bi, rm, rv, 0.1, 1e-5, relu, layout);
  y.backward(blocked ? to_blocked16(g) : g);
  return {blocked ? from_blocked16(y) : y, blocked ? from_blocked16(xi.grad()) : xi.grad(), wi.grad(), bi.grad(), rm,
          rv};
}

void expect_layouts_agree(std::vector<int64_t> shape, torch::ScalarType dtype, bool pool, bool relu) {
  torch::manual_seed(7);
  const int64_t c = shape[1];
  const auto acc = dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto x = (torch::randn(shape, torch::kFloat64) * 2 + 0.3).to(dtype);
  // Negative weights flip a pooling window's winner from its largest input to its smallest.
  auto w = (torch::rand({c}, acc) + 0.5) * (torch::rand({c}, acc) < 0.3).to(acc).mul(-2).add(1);
  auto b = torch::randn({c}, acc) * 0.5;
  std::vector<int64_t> out_shape = shape;
  if (pool) {
    out_shape[2] /= 2;
    out_shape[3] /= 2;
  }
  auto g = torch::randn(out_shape, torch::kFloat64).to(dtype);
  const auto plain = bn_step(x, w, b, g, pool, relu, Layout::kNCHW);
  const auto blocked = bn_step(x, w, b, g, pool, relu, Layout::kBlocked16);
  const std::string what = c10::str(shape, " ", dtype, " pool=", pool, " relu=", relu);
  const double tol = tolerance(dtype);
  ASSERT_EQ(blocked.y.sizes(), plain.y.sizes()) << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.y, plain.y), tol * (1 + plain.y.abs().max().item<double>())) << "forward " << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.dx, plain.dx), tol * (1 + plain.dx.abs().max().item<double>())) << "dx " << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.dw, plain.dw), tol * (1 + plain.dw.abs().max().item<double>())) << "dw " << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.db, plain.db), tol * (1 + plain.db.abs().max().item<double>())) << "db " << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.running_mean, plain.running_mean), 1e-5) << what;
  EXPECT_LT(selfsup::testing::max_diff(blocked.running_var, plain.running_var), 1e-5) << what;
  // Not trivially equal: the gradients are far from zero.
  EXPECT_GT(plain.dx.abs().max().item<double>(), 1e-3) << what;
}

TEST(BlockedLayout, BatchNormTrainAgreesWithNCHW) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32, torch::kBFloat16}) {
    for (bool relu : {true, false}) expect_layouts_agree({3, 32, 5, 7}, dtype, /*pool=*/false, relu);
  }
}

TEST(BlockedLayout, BatchNormReluPoolAgreesWithNCHW) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32, torch::kBFloat16}) {
    expect_layouts_agree({4, 32, 6, 8}, dtype, /*pool=*/true, /*relu=*/true);
    expect_layouts_agree({3, 16, 7, 9}, dtype, /*pool=*/true, /*relu=*/true);  // odd rows and columns
  }
}

TEST(BlockedLayout, PoolTiesAndNaNFollowTheNCHWKernel) {
  // Integer inputs: many windows hold equal maxima; the first one wins in both layouts.
  torch::manual_seed(8);
  auto x = torch::randint(0, 3, {2, 16, 4, 4}).to(torch::kFloat32);
  x[1][5][2][3] = std::numeric_limits<float>::quiet_NaN();
  auto w = torch::ones({16}), b = torch::zeros({16});
  auto g = torch::randn({2, 16, 2, 2});
  // NaN makes its channel's statistics NaN: compare the other channels exactly-ish, and the NaN
  // channel's NaN pattern.
  const auto plain = bn_step(x, w, b, g, true, true, Layout::kNCHW);
  const auto blocked = bn_step(x, w, b, g, true, true, Layout::kBlocked16);
  EXPECT_TRUE(torch::equal(torch::isnan(plain.y), torch::isnan(blocked.y)));
  auto keep = torch::ones({16}, torch::kBool);
  keep[5] = false;
  EXPECT_LT(selfsup::testing::max_diff(blocked.y.index({torch::indexing::Slice(), keep}), plain.y.index({torch::indexing::Slice(), keep})),
            1e-5);
  EXPECT_LT(selfsup::testing::max_diff(blocked.dx.index({torch::indexing::Slice(), keep}), plain.dx.index({torch::indexing::Slice(), keep})),
            1e-5);
}

TEST(BlockedLayout, StemConvAgreesWithNCHW) {
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    torch::manual_seed(9);
    auto x = torch::randn({5, 1, 9, 11}, dtype);
    auto w = torch::randn({32, 1, 3, 3}, dtype);
    auto g = torch::randn({5, 32, 9, 11}, dtype);
    auto wa = w.clone().requires_grad_(), wb = w.clone().requires_grad_();
    auto ya = functional::stem_conv3x3(x, wa), yb = functional::stem_conv3x3(x, wb, Layout::kBlocked16);
    ASSERT_EQ(yb.sizes(), (std::vector<int64_t>{5, 2, 9, 11, 16}));
    ya.backward(g);
    yb.backward(to_blocked16(g));
    const double tol = tolerance(dtype);
    EXPECT_LT(selfsup::testing::max_diff(from_blocked16(yb), ya), tol * (1 + ya.abs().max().item<double>())) << dtype;
    EXPECT_LT(selfsup::testing::max_diff(wb.grad(), wa.grad()), tol * (1 + wa.grad().abs().max().item<double>())) << dtype;
  }
  // A width that does not fill blocks of 16 cannot be blocked.
  EXPECT_THROW(functional::stem_conv3x3(torch::randn({1, 1, 4, 4}), torch::randn({8, 1, 3, 3}), Layout::kBlocked16),
               c10::Error);
}

TEST(BlockedLayout, Conv3x3TakesAndGivesEitherLayout) {
  torch::manual_seed(10);
  auto x = torch::randn({4, 32, 7, 7}), w = torch::randn({16, 32, 3, 3}) * 0.2, g = torch::randn({4, 16, 7, 7});
  auto wa = w.clone().requires_grad_();
  auto xa = x.clone().requires_grad_();
  auto ya = functional::conv3x3(xa, wa);
  ya.backward(g);
  for (auto src : {Layout::kNCHW, Layout::kBlocked16}) {
    for (auto dst : {Layout::kNCHW, Layout::kBlocked16}) {
      auto xb = (src == Layout::kBlocked16 ? to_blocked16(x) : x.clone()).requires_grad_();
      auto wb = w.clone().requires_grad_();
      auto yb = functional::conv3x3(xb, wb, functional::Conv3x3FuncOptions().src_layout(src).dst_layout(dst));
      yb.backward(dst == Layout::kBlocked16 ? to_blocked16(g) : g);
      const auto y = dst == Layout::kBlocked16 ? from_blocked16(yb) : yb;
      const auto dx = src == Layout::kBlocked16 ? from_blocked16(xb.grad()) : xb.grad();
      // The same oneDNN kernels on the same values: reorders are exact.
      EXPECT_LT(selfsup::testing::max_diff(y, ya), 1e-6 * (1 + ya.abs().max().item<double>()));
      EXPECT_LT(selfsup::testing::max_diff(dx, xa.grad()), 1e-6 * (1 + xa.grad().abs().max().item<double>()));
      EXPECT_LT(selfsup::testing::max_diff(wb.grad(), wa.grad()), 1e-6 * (1 + wa.grad().abs().max().item<double>()));
    }
  }
}

TEST(BlockedLayout, BatchNormModuleOutsideTrainingConvertsAndAgrees) {
  torch::manual_seed(11);
  nets::BatchNorm bn(nets::BatchNormOptions(32).relu(true));
  auto x = torch::randn({3, 32, 4, 4});
  bn->train();
  auto trained = from_blocked16(bn->forward_activation({to_blocked16(x), Layout::kBlocked16}, /*pool=*/true).tensor);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->eval();
  auto evaluated = from_blocked16(bn->forward_activation({to_blocked16(x), Layout::kBlocked16}, /*pool=*/false).tensor);
  EXPECT_LT(selfsup::testing::max_diff(evaluated, bn->forward(x)), 1e-6);
  EXPECT_EQ(trained.sizes(), (std::vector<int64_t>{3, 32, 2, 2}));
  try {
    bn->forward_activation({x, Layout::kBlocked16}, false);
    FAIL() << "an NCHW tensor passed for a blocked one";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("expected a blocked input [N, 2, H, W, 16]"),
              std::string::npos)
        << e.what_without_backtrace();
  }
}

}  // namespace
