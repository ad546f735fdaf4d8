// Thinning: the network without its zero filters computes what the original computed.
#include "selfsup/nets/thin.h"

#include <gtest/gtest.h>

#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/convnet.h"
#include "selfsup/nets/resnet.h"
#include "support/compare.h"
#include "support/error_of.h"

namespace nets = selfsup::nets;
namespace nn = torch::nn;

namespace {

struct Layers {
  std::vector<nn::Conv2dImpl*> convs;
  std::vector<nets::BatchNormImpl*> bns;
};

Layers layers_of(nets::ConvNetImpl& net) {
  Layers l;
  for (const auto& m : net.features->children()) {
    if (auto* c = m->as<nn::Conv2dImpl>()) l.convs.push_back(c);
    if (auto* b = m->as<nets::BatchNormImpl>()) l.bns.push_back(b);
  }
  return l;
}

// A trained-looking ConvNet: random batch-norm statistics and affine parameters, and the chosen
// filters of each layer set to zero. In the inner layers the batch norm's weight and bias of a
// zero filter are zero too, as a filter group lasso with the batch norm in the group leaves them;
// in the last layer they are not, and the constant the channel outputs is folded into the head.
nets::ConvNet zeroed_convnet(const std::vector<std::vector<int64_t>>& zero) {
  torch::manual_seed(4);
  auto net = nets::ConvNet(nets::ConvNetOptions(1).channels({8, 12, 16}));
  auto l = layers_of(*net);
  torch::NoGradGuard g;
  for (size_t i = 0; i < l.convs.size(); ++i) {
    auto* bn = l.bns[i];
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.3, 0.3);
    bn->running_mean.uniform_(-0.2, 0.2);
    bn->running_var.uniform_(0.5, 2.0);
    for (int64_t f : zero[i]) {
      l.convs[i]->weight[f].zero_();
      const bool last = i + 1 == l.convs.size();
      bn->weight[f] = last ? 0.7 : 0.0;
      bn->bias[f] = last ? 0.4 : 0.0;
    }
  }
  net->eval();
  return net;
}

}  // namespace

TEST(Thin, ConvNetWithHeadComputesTheSameOutputs) {
  const std::vector<std::vector<int64_t>> zero{{1, 5}, {0, 3, 7, 11}, {2, 3, 9, 15}};
  auto net = zeroed_convnet(zero);
  nn::Linear head(16, 10);
  head->eval();
  const auto x = torch::randn({5, 1, 28, 28});
  const auto before = head(net->forward(x));

  auto r = nets::thin(*net, head);
  EXPECT_EQ(r.widths_key, "model.channels");
  EXPECT_EQ(r.widths, (std::vector<int64_t>{6, 8, 12}));
  EXPECT_EQ(r.kept[0], (std::vector<int64_t>{0, 2, 3, 4, 6, 7}));
  const auto after = r.head(r.backbone->forward(x));
  EXPECT_LT(selfsup::testing::max_diff(before, after), 1e-5);
  // Fewer parameters and multiply-adds, and the thinned network's own count says so.
  EXPECT_LT(r.backbone->forward_flops(28, 28), 0.6 * net->forward_flops(28, 28));
  EXPECT_EQ(r.backbone->feature_dim(), 12);
  EXPECT_EQ(r.head->weight.size(1), 12);
  // The original is untouched.
  EXPECT_TRUE(torch::equal(head(net->forward(x)), before));
}

TEST(Thin, ResNetBlocksLoseInnerChannelsAndComputeTheSameOutputs) {
  torch::manual_seed(6);
  auto net = nets::ResNet(nets::ResNetOptions(18, 3).width(0.125));
  std::vector<int64_t> expected_mid;
  {
    torch::NoGradGuard g;
    int64_t block = 0;
    for (const auto& layer : net->layers) {
      for (const auto& child : layer->children()) {
        auto* b = child->as<nets::BasicBlockImpl>();
        b->bn1->running_mean.uniform_(-0.2, 0.2);
        b->bn1->running_var.uniform_(0.5, 2.0);
        b->bn2->running_mean.uniform_(-0.2, 0.2);
        b->bn2->bias.uniform_(-0.3, 0.3);
        // Every other block loses its first `block % 3 + 1` inner channels (with their batch norm).
        const int64_t n = block % 2 == 0 ? block % 3 + 1 : 0;
        for (int64_t f = 0; f < n; ++f) {
          b->conv1->weight[f].zero_();
          b->bn1->weight[f] = 0.0;
          b->bn1->bias[f] = 0.0;
        }
        expected_mid.push_back(b->conv1->weight.size(0) - n);
        ++block;
      }
    }
  }
  net->eval();
  nn::Linear head(net->feature_dim(), 10);
  const auto x = torch::randn({3, 3, 32, 32});
  const auto before = head(net->forward(x));
  auto r = nets::thin(*net, head);
  EXPECT_EQ(r.widths_key, "model.mid_widths");
  EXPECT_EQ(r.widths, expected_mid);
  EXPECT_LT(selfsup::testing::max_diff(before, r.head(r.backbone->forward(x))), 1e-5);
  EXPECT_LT(r.backbone->forward_flops(32, 32), net->forward_flops(32, 32));
  // The thinned ResNet is what the config key builds.
  auto cfg = selfsup::Config::parse("model: {backbone: resnet18, width: 0.125}");
  cfg.set("model.mid_widths", YAML::Node(r.widths));
  const auto rebuilt = nets::make_backbone(cfg, 3, 32);
  EXPECT_EQ(nets::count_parameters(*rebuilt), nets::count_parameters(*r.backbone));
}

TEST(Thin, WithoutZeroFiltersNothingChanges) {
  torch::manual_seed(1);
  auto net = nets::ConvNet(nets::ConvNetOptions(1).channels({4, 6}));
  net->eval();
  const auto x = torch::randn({2, 1, 16, 16});
  auto r = nets::thin(*net, nullptr);
  EXPECT_EQ(r.widths, (std::vector<int64_t>{4, 6}));
  EXPECT_FALSE(r.head);
  EXPECT_LT(selfsup::testing::max_diff(net->forward(x), r.backbone->forward(x)), 1e-6);
}

TEST(Thin, RefusesWhatItCannotThin) {
  auto deep = nets::ConvNet(nets::ConvNetOptions(1).channels({4, 6}).blocks_per_stage(2));
  EXPECT_NE(selfsup::testing::error_of([&] { nets::thin(*deep, nullptr); }).find("blocks_per_stage 2"), std::string::npos);
}
