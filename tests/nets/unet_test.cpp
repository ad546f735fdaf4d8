#include "selfsup/nets/unet.h"

#include <gtest/gtest.h>

#include "selfsup/core/runtime.h"
#include "support/error_of.h"

using selfsup::nets::UNet;
using selfsup::nets::UNetOptions;

TEST(UNet, KeepsAnyImageSizeOfAtLeastItsSmallestInput) {
  selfsup::seed_everything(0);
  UNet net(UNetOptions(1).width(8).depth(3));
  EXPECT_EQ(net->min_size(), 8);
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{8, 8}, {37, 50}, {64, 33}}) {
    const auto y = net->forward(torch::randn({2, 1, h, w}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, h, w}));
  }
  UNet rgb(UNetOptions(3).width(8).depth(2));
  EXPECT_EQ(rgb->forward(torch::randn({1, 3, 20, 21})).sizes(), (std::vector<int64_t>{1, 3, 20, 21}));
  const auto msg = selfsup::testing::error_of([&] { net->forward(torch::randn({1, 1, 7, 40})); });
  EXPECT_NE(msg.find("7x40 is smaller than the network's smallest input, 8x8"), std::string::npos) << msg;
  EXPECT_NE(selfsup::testing::error_of([&] { net->forward(torch::randn({1, 3, 16, 16})); }).find("1 input channels"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([] { UNet(UNetOptions(1).depth(0)); }).find("depth must be in [1, 8], got 0"),
            std::string::npos);
}

// One output pixel depends on a square of input pixels no wider than receptive_field(), and
// nearly all of it (the widest phase of the pooling grid may not be this pixel's): measured by
// the gradient of that pixel with respect to the input.
TEST(UNet, ReceptiveFieldBoundsWhatAnOutputPixelSees) {
  for (int64_t depth : {1, 2, 3}) {
    selfsup::seed_everything(1);
    UNet net(UNetOptions(1).width(4).depth(depth));
    net->to(torch::kFloat64);
    const int64_t rf = net->receptive_field(), side = 2 * rf;
    const auto x = torch::randn({1, 1, side, side}, torch::kFloat64);
    int64_t widest = 0;
    for (int64_t phase = 0; phase < (int64_t{1} << depth); ++phase) {
      auto xi = x.clone().requires_grad_(true);
      net->forward(xi)[0][0][side / 2 + phase][side / 2 + phase].backward();
      const auto nz = xi.grad()[0][0].ne(0).nonzero();
      const int64_t ext_y = (nz.select(1, 0).max() - nz.select(1, 0).min()).item<int64_t>() + 1;
      const int64_t ext_x = (nz.select(1, 1).max() - nz.select(1, 1).min()).item<int64_t>() + 1;
      EXPECT_LE(ext_y, rf) << "depth " << depth << " phase " << phase;
      EXPECT_LE(ext_x, rf) << "depth " << depth << " phase " << phase;
      widest = std::max({widest, ext_y, ext_x});
    }
    // Max-pooling passes gradient to one pixel of each window, so the measured square may miss a
    // pixel at each pooling's edge.
    EXPECT_GE(widest, rf - 2 * depth) << "depth " << depth;
  }
}

TEST(UNet, MultiplyAddsMatchACountOverItsConvolutions) {
  UNet net(UNetOptions(1).width(6).depth(2));
  // Each convolution's MACs at the size it runs at: encoder convs at 16x24, 16x24, 8x12, 4x6.
  const int64_t h = 16, w = 24;
  auto x = torch::randn({1, 1, h, w});
  const double e = 16.0 * 24 * 9 * (1 * 6 + 6 * 6) + 8.0 * 12 * 9 * 6 * 6 + 4.0 * 6 * 9 * 6 * 6;
  // decoder: level 1 (8x12): (6+6)->12, 12->12; level 0 (16x24): (12+1)->8, 8->4, 4->1.
  const double d = 8.0 * 12 * 9 * (12 * 12 + 12 * 12) + 16.0 * 24 * 9 * (13 * 8 + 8 * 4 + 4 * 1);
  EXPECT_DOUBLE_EQ(net->forward_macs(h, w), e + d);
  EXPECT_EQ(net->forward(x).sizes(), x.sizes());
}
