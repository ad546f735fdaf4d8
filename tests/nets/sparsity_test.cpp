// The sparsity report: zero filters, channels, kernels and parameters counted per layer, and
// multiply-accumulates per layer that add up to the backbone's own count.
#include "selfsup/nets/sparsity.h"

#include <gtest/gtest.h>

#include "selfsup/nets/convnet.h"
#include "selfsup/nets/resnet.h"

namespace nets = selfsup::nets;

namespace {

struct WithHead : torch::nn::Module {
  explicit WithHead(nets::Backbone b) : backbone(register_module("backbone", b)) {
    head = register_module("head", torch::nn::Linear(backbone->feature_dim(), 10));
  }
  nets::Backbone backbone;
  torch::nn::Linear head{nullptr};
};

}  // namespace

TEST(Sparsity, LayerMacsAddUpToTheBackbonesCount) {
  for (auto make : {+[] { return nets::Backbone(nets::ConvNet(nets::ConvNetOptions(1).channels({8, 16, 32}).blocks_per_stage(2)).ptr()); },
                    +[] { return nets::Backbone(nets::ResNet(nets::ResNetOptions(18, 3).width(0.125)).ptr()); },
                    +[] { return nets::Backbone(nets::ResNet(nets::ResNetOptions(18, 3).width(0.125).cifar_stem(false)).ptr()); }}) {
    const auto b = make();
    for (int64_t size : {28, 33}) {
      const auto r = nets::sparsity_report(*b, b.get(), size, size);
      EXPECT_NEAR(r.total().macs, b->forward_flops(size, size), 1e-6 * b->forward_flops(size, size)) << size;
      EXPECT_EQ(r.total().zero_params, 0);
      EXPECT_EQ(r.total().macs_nonzero, r.total().macs);
      EXPECT_EQ(r.total().macs_after, r.total().macs);
    }
  }
}

TEST(Sparsity, CountsZeroGroupsInsideAModel) {
  WithHead model(nets::ConvNet(nets::ConvNetOptions(1).channels({4, 6})).ptr());
  auto* convnet = model.backbone->as<nets::ConvNetImpl>();
  auto& w0 = convnet->features[0]->as<torch::nn::Conv2dImpl>()->weight;
  auto& w1 = convnet->features[4]->as<torch::nn::Conv2dImpl>()->weight;
  {
    torch::NoGradGuard g;
    w0[1].zero_();
    w0[3].zero_();           // filters 1 and 3 of the first layer
    w1.select(1, 2).zero_();  // input channel 2 of the second
    w1[0][0].zero_();         // one more kernel
  }
  const auto r = nets::sparsity_report(model, model.backbone.get(), 28, 28);
  ASSERT_EQ(r.layers.size(), 3u);
  const auto& a = r.layers[0];
  EXPECT_EQ(a.name, "backbone.features.0");
  EXPECT_EQ(a.zero_filters, 2);
  EXPECT_EQ(a.filters, 4);
  EXPECT_EQ(a.zero_params, 18);
  EXPECT_EQ(a.macs, 4 * 9 * 28 * 28);
  EXPECT_EQ(a.macs_nonzero, 2 * 9 * 28 * 28);
  EXPECT_EQ(a.macs_after, 2 * 9 * 28 * 28);
  const auto& b = r.layers[1];
  EXPECT_EQ(b.name, "backbone.features.4");
  EXPECT_EQ(b.zero_channels, 1);
  EXPECT_EQ(b.zero_filters, 0);
  EXPECT_EQ(b.zero_kernels, 6 + 1);
  EXPECT_EQ(b.zero_params, 7 * 9);
  EXPECT_EQ(b.macs, 6 * 4 * 9 * 14 * 14);
  EXPECT_EQ(b.macs_nonzero, (24 - 7) * 9 * 14 * 14);
  // Thinned, the second layer reads only the first layer's 2 remaining filters.
  EXPECT_EQ(b.macs_after, 6 * 2 * 9 * 14 * 14);
  const auto& h = r.layers[2];
  EXPECT_EQ(h.name, "head");
  EXPECT_EQ(h.macs, 60);
  EXPECT_EQ(h.macs_after, 60);
  const auto j = r.to_json();
  EXPECT_EQ(j["total"]["zero_params"].get<int64_t>(), 18 + 63);
  EXPECT_EQ(j["layers"].size(), 3u);
  EXPECT_NE(r.table().find("backbone.features.0"), std::string::npos);
  EXPECT_NE(r.table().find("2/4"), std::string::npos);
}
