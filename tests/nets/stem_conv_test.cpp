// functional::stem_conv3x3 (the ConvNet's grayscale first layer) against torch::conv2d, and a
// float64 finite-difference gradient of the weight.
#include <gtest/gtest.h>

#include "selfsup/nets/kernels.h"
#include "selfsup/core/runtime.h"
#include "selfsup/train/precision.h"
#include "support/gradcheck.h"
#include "support/compare.h"

using namespace selfsup;

namespace {

void expect_matches_conv2d(std::vector<int64_t> shape, int64_t channels, torch::ScalarType dtype, double tol) {
  torch::manual_seed(7);
  auto x = torch::randn(shape, dtype);
  auto w = torch::randn({channels, 1, 3, 3}, dtype);
  auto wa = w.clone().requires_grad_(), wb = w.clone().requires_grad_();
  auto ya = functional::stem_conv3x3(x, wa), yb = torch::conv2d(x, wb, {}, 1, 1);
  const std::string what = c10::str(shape, " ", dtype);
  ASSERT_EQ(ya.sizes(), yb.sizes()) << what;
  EXPECT_LT(selfsup::testing::max_diff(ya, yb), tol) << "forward " << what;
  auto g = torch::randn(ya.sizes(), dtype);
  ya.backward(g);
  yb.backward(g);
  EXPECT_LT(selfsup::testing::max_diff(wa.grad(), wb.grad()), tol * (1 + wb.grad().abs().max().item<double>())) << "dw " << what;
}

TEST(StemConv, MatchesConv2d) {
  expect_matches_conv2d({4, 1, 28, 28}, 8, torch::kFloat32, 1e-5);
  expect_matches_conv2d({3, 1, 7, 5}, 3, torch::kFloat32, 1e-5);  // odd sides, rows shorter than a vector
  expect_matches_conv2d({2, 1, 6, 9}, 4, torch::kFloat64, 1e-12);
}

TEST(StemConv, ExactSmallCase) {
  // A centre-tap kernel copies the image; a kernel of ones sums each 3x3 neighbourhood (zero padded).
  auto x = torch::arange(1, 10, torch::kFloat64).view({1, 1, 3, 3});
  auto k = torch::zeros({2, 1, 3, 3}, torch::kFloat64);
  k[0][0][1][1] = 1;
  k[1].fill_(1);
  auto y = functional::stem_conv3x3(x, k);
  EXPECT_TRUE(torch::equal(y[0][0], x[0][0]));
  EXPECT_EQ(y[0][1][1][1].item<double>(), 45);  // the whole image
  EXPECT_EQ(y[0][1][0][0].item<double>(), 1 + 2 + 4 + 5);
}

TEST(StemConv, FiniteDifferenceGradientOfTheWeight) {
  auto x = torch::randn({2, 1, 5, 4}, torch::kFloat64);
  auto w = torch::randn({3, 1, 3, 3}, torch::kFloat64).requires_grad_();
  auto r = selfsup::testing::gradcheck(
      [&](const std::vector<torch::Tensor>& in) { return functional::stem_conv3x3(x, in[0]); }, {w});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
}

TEST(StemConv, AnInputThatNeedsAGradientTakesConv2d) {
  // VAT differentiates with respect to the image: our kernel writes no input gradient.
  auto x = torch::randn({2, 1, 6, 6}).requires_grad_();
  auto w = torch::randn({4, 1, 3, 3});
  functional::stem_conv3x3(x, w).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  auto xb = x.detach().clone().requires_grad_();
  torch::conv2d(xb, w, {}, 1, 1).sum().backward();
  EXPECT_LT(selfsup::testing::max_diff(x.grad(), xb.grad()), 1e-5);
}

TEST(StemConv, UnderAutocastItIsConv2dInBf16) {
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "no native bf16 here (or SELFSUP_CPU_ISA below avx512): training never autocasts";
  auto x = torch::randn({2, 1, 6, 6});
  auto w = torch::randn({4, 1, 3, 3});
  train::AutocastScope bf16(true, torch::kCPU);
  EXPECT_EQ(functional::stem_conv3x3(x, w).scalar_type(), torch::kBFloat16);
}

TEST(StemConv, RejectsMoreThanOneInputChannel) {
  try {
    functional::stem_conv3x3(torch::randn({2, 3, 6, 6}), torch::randn({4, 1, 3, 3}));
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("stem_conv3x3: expected images [N, 1, H, W], got [2, 3, 6, 6]"),
              std::string::npos)
        << e.msg();
  }
}

}  // namespace
