// functional::conv3x3 (oneDNN's Winograd and direct kernels, called without LibTorch's
// per-call reorders) against a float64 torch::conv2d: output, input gradient, weight gradient.
#include <gtest/gtest.h>

#include "selfsup/nets/convnet.h"
#include "selfsup/nets/kernels.h"

using namespace selfsup;
using functional::Conv3x3Algorithm;
using functional::Conv3x3FuncOptions;

namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kFloat64);
  return (a.to(torch::kFloat64) - r).abs().max().item<double>() / r.abs().max().item<double>();
}

struct Result {
  torch::Tensor y, dx, dw;
};

Result run(const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& g, const Conv3x3FuncOptions& o) {
  auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
  auto y = functional::conv3x3(x, w, o);
  y.backward(g.to(y.scalar_type()));
  return {y.detach(), x.grad(), w.grad()};
}

// fp32 through `algorithm` against the same convolution in float64. Winograd rounds differently
// from the direct algorithm; both stay within 1e-5 of the largest value (fp32 alone gives ~1e-7).
void expect_matches_float64(std::vector<int64_t> shape, int64_t out_channels, Conv3x3Algorithm algorithm) {
  torch::manual_seed(3);
  auto x = torch::randn(shape), w = torch::randn({out_channels, shape[1], 3, 3}) * 0.2;
  auto g = torch::randn({shape[0], out_channels, shape[2], shape[3]});
  const auto ref = run(x.to(torch::kFloat64), w.to(torch::kFloat64), g, Conv3x3FuncOptions().algorithm(Conv3x3Algorithm::kTorch));
  const auto got = run(x, w, g, Conv3x3FuncOptions().algorithm(algorithm));
  ASSERT_EQ(got.y.scalar_type(), torch::kFloat32);
  ASSERT_EQ(got.y.sizes(), ref.y.sizes());
  EXPECT_LT(rel_diff(got.y, ref.y), 1e-5) << shape;
  EXPECT_LT(rel_diff(got.dx, ref.dx), 1e-5) << shape;
  EXPECT_LT(rel_diff(got.dw, ref.dw), 1e-5) << shape;
  // And the result is not trivially close: a wrong kernel (say, one tap off) is far from it.
  EXPECT_GT(ref.y.abs().max().item<double>(), 0.05);
}

bool has_winograd() {
  if (!functional::conv3x3_uses_onednn()) return false;
  try {
    functional::conv3x3(torch::randn({2, 16, 8, 8}), torch::randn({16, 16, 3, 3}),
                        Conv3x3FuncOptions().algorithm(Conv3x3Algorithm::kWinograd));
    return true;
  } catch (const c10::Error&) {
    return false;  // a CPU without AVX-512
  }
}

TEST(Conv3x3, WinogradMatchesFloat64Convolution) {
  if (!has_winograd()) GTEST_SKIP() << "oneDNN offers no Winograd kernel on this build or CPU";
  expect_matches_float64({8, 32, 14, 14}, 64, Conv3x3Algorithm::kWinograd);
  expect_matches_float64({5, 64, 7, 7}, 128, Conv3x3Algorithm::kWinograd);
  expect_matches_float64({3, 16, 9, 11}, 32, Conv3x3Algorithm::kWinograd);  // tiles cut by the border
}

TEST(Conv3x3, DirectAndAutoMatchFloat64Convolution) {
  if (!functional::conv3x3_uses_onednn()) GTEST_SKIP() << "built without oneDNN's headers";
  for (auto algorithm : {Conv3x3Algorithm::kDirect, Conv3x3Algorithm::kAuto}) {
    expect_matches_float64({8, 32, 14, 14}, 64, algorithm);
    expect_matches_float64({3, 5, 7, 9}, 6, algorithm);  // channels Winograd cannot block
    expect_matches_float64({2, 3, 1, 1}, 4, algorithm);  // every tap but the centre is padding
  }
}

TEST(Conv3x3, ExactSmallCase) {
  // One channel of ones through a kernel of ones: each output counts the input pixels its 3x3
  // window covers (4 at a corner, 6 on an edge, 9 inside); the weight gradient for a gradient of
  // ones counts, per tap, the outputs whose window that tap keeps inside the image.
  auto x = torch::ones({1, 16, 4, 4}), w = torch::zeros({16, 16, 3, 3});
  w.select(0, 0).select(0, 0).fill_(1.0);
  auto xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_();
  auto y = functional::conv3x3(xg, wg);
  auto expected = torch::tensor({4.f, 6.f, 6.f, 4.f, 6.f, 9.f, 9.f, 6.f, 6.f, 9.f, 9.f, 6.f, 4.f, 6.f, 6.f, 4.f}).view({4, 4});
  EXPECT_TRUE(torch::allclose(y[0][0], expected, 0, 1e-5)) << y[0][0];
  EXPECT_EQ(y.slice(1, 1).abs().max().item<float>(), 0.f);
  y.sum().backward();
  auto taps = torch::tensor({9.f, 12.f, 9.f, 12.f, 16.f, 12.f, 9.f, 12.f, 9.f}).view({3, 3});
  EXPECT_TRUE(torch::allclose(wg.grad()[5][7], taps, 0, 1e-4)) << wg.grad()[5][7];
}

TEST(Conv3x3, EachGradientOnlyWhenAsked) {
  torch::manual_seed(4);
  auto x = torch::randn({4, 16, 6, 6}), w = torch::randn({16, 16, 3, 3});
  auto ref_x = x.clone().requires_grad_(), ref_w = w.clone().requires_grad_();
  torch::conv2d(ref_x, ref_w, {}, 1, 1).sum().backward();

  auto wg = w.clone().requires_grad_();
  functional::conv3x3(x, wg).sum().backward();  // images need no gradient
  EXPECT_LT(rel_diff(wg.grad(), ref_w.grad()), 1e-5);

  auto xg = x.clone().requires_grad_();
  functional::conv3x3(xg, w).sum().backward();  // a frozen layer
  EXPECT_LT(rel_diff(xg.grad(), ref_x.grad()), 1e-5);

  torch::NoGradGuard no_grad;
  EXPECT_LT(rel_diff(functional::conv3x3(x, w), torch::conv2d(x, w, {}, 1, 1)), 1e-5);
}

TEST(Conv3x3, OtherDtypesAndLayoutsTakeTorchsPath) {
  torch::manual_seed(5);
  auto x = torch::randn({2, 16, 5, 5}, torch::kFloat64), w = torch::randn({16, 16, 3, 3}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(functional::conv3x3(x, w), torch::conv2d(x, w, {}, 1, 1)));
  auto cl = x.to(torch::kFloat32).contiguous(torch::MemoryFormat::ChannelsLast);
  auto wf = w.to(torch::kFloat32);
  EXPECT_TRUE(torch::equal(functional::conv3x3(cl, wf), torch::conv2d(cl, wf, {}, 1, 1)));
  // Asking for a oneDNN kernel where it cannot run is an error, not a silent fallback.
  EXPECT_THROW(functional::conv3x3(x, w, Conv3x3FuncOptions().algorithm(Conv3x3Algorithm::kDirect)), c10::Error);
}

TEST(Conv3x3, RejectsMismatchedShapesNamingThem) {
  auto x = torch::randn({2, 8, 5, 5});
  try {
    functional::conv3x3(x, torch::randn({4, 6, 3, 3}));
    FAIL() << "a weight for 6 input channels took 8";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find("conv3x3: expected a weight [O, 8, 3, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4, 6, 3, 3]"), std::string::npos) << msg;
  }
  EXPECT_THROW(functional::conv3x3(torch::randn({8, 5, 5}), torch::randn({4, 8, 3, 3})), c10::Error);
  EXPECT_THROW(functional::conv3x3(x, torch::randn({4, 8, 5, 5})), c10::Error);
}

TEST(Conv3x3, ConvNetWithWinogradWidthsMatchesTorchLayers) {
  // Widths Winograd blocks (multiples of 16), as in the Fashion-MNIST configs: the whole network's
  // output and gradients against the same weights run through torch's convolution.
  torch::manual_seed(6);
  nets::ConvNet net(nets::ConvNetOptions(1).channels({16, 32, 64}));
  auto ref = nets::ConvNet(nets::ConvNetOptions(1).channels({16, 32, 64}));
  {
    torch::NoGradGuard no_grad;
    auto src = net->parameters(), dst = ref->parameters();
    for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
  }
  auto x = torch::randn({6, 1, 12, 12});
  auto ya = net->forward(x);
  torch::Tensor yb;
  {
    // The reference: float64, so every convolution takes torch::conv2d.
    ref->to(torch::kFloat64);
    yb = ref->forward(x.to(torch::kFloat64));
  }
  EXPECT_LT(rel_diff(ya, yb), 1e-4);
  auto g = torch::randn(ya.sizes());
  ya.backward(g);
  yb.backward(g.to(torch::kFloat64));
  auto pa = net->parameters(), pb = ref->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_LT(rel_diff(pa[i].grad(), pb[i].grad()), 1e-3) << "parameter " << i;
}

}  // namespace
