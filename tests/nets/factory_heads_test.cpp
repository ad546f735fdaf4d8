// Name/config-based construction and the projector / predictor heads.
#include <gtest/gtest.h>

#include "selfsup/core/config.h"
#include "selfsup/nets/nets.h"
#include "support/error_of.h"

namespace nets = selfsup::nets;
using selfsup::Config;
using selfsup::testing::error_of;

namespace {

TEST(Factory, BuildsEachBackboneFromConfig) {
  struct Expect {
    std::string yaml;
    int64_t feature_dim;
  };
  const std::vector<Expect> expects{
      {"model: {backbone: convnet, channels: [4, 6], blocks_per_stage: 2}", 6},
      {"model: {backbone: resnet18, width: 0.125, zero_init_residual: true}", 64},
      {"model: {backbone: resnet34, width: 0.0625, cifar_stem: false}", 32},
      {"model: {backbone: vit, dim: 12, depth: 1, heads: 3, patch_size: 7, mlp_ratio: 2}", 12},
      {"model: {backbone: vit_mini, depth: 1}", 128},
      {"model: {backbone: mlp, hidden: [16, 8], batch_norm: false}", 8},
  };
  for (const auto& e : expects) {
    auto cfg = Config::parse(e.yaml);
    auto b = nets::make_backbone(cfg, 1, 28);
    EXPECT_EQ(b->feature_dim(), e.feature_dim) << e.yaml;
    EXPECT_EQ(b->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, e.feature_dim})) << e.yaml;
    EXPECT_TRUE(cfg.unused_keys().empty()) << e.yaml << ": " << cfg.unused_keys().front();
  }
}

TEST(Factory, ConfigValuesReachTheModules) {
  auto cfg = Config::parse("model: {backbone: convnet, channels: [4, 6], blocks_per_stage: 2}");
  auto conv = std::dynamic_pointer_cast<nets::ConvNetImpl>(nets::make_backbone(cfg, 3, 32));
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->options.channels(), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(conv->options.blocks_per_stage(), 2);
  EXPECT_EQ(conv->options.in_channels(), 3);

  auto vit = std::dynamic_pointer_cast<nets::ViTImpl>(
      nets::make_backbone(Config::parse("model: {backbone: vit_mini, heads: 2, patch_size: 8}"), 3, 32));
  ASSERT_TRUE(vit);
  EXPECT_EQ(vit->options.heads(), 2);
  EXPECT_EQ(vit->options.dim(), 128);
  EXPECT_EQ(vit->num_patches(), 16);

  auto mlp = std::dynamic_pointer_cast<nets::MLPBackboneImpl>(nets::make_backbone(Config::parse("model: {backbone: mlp}"), 3, 32));
  ASSERT_TRUE(mlp);
  EXPECT_EQ(mlp->options.in_features(), 3 * 32 * 32);
}

TEST(Factory, CifarStemDefaultsFromImageSize) {
  auto small = std::dynamic_pointer_cast<nets::ResNetImpl>(
      nets::make_backbone(nets::BackboneOptions("resnet18", 3, 64).width(0.0625)));
  auto large = std::dynamic_pointer_cast<nets::ResNetImpl>(
      nets::make_backbone(nets::BackboneOptions("resnet18", 3, 96).width(0.0625)));
  ASSERT_TRUE(small && large);
  EXPECT_TRUE(small->options.cifar_stem());
  EXPECT_FALSE(large->options.cifar_stem());
  EXPECT_EQ(large->conv1->options.kernel_size()->at(0), 7);
}

TEST(Factory, DefaultsToConvNet) {
  auto b = nets::make_backbone(Config(), 1, 28);
  EXPECT_TRUE(std::dynamic_pointer_cast<nets::ConvNetImpl>(b));
  EXPECT_EQ(b->feature_dim(), 128);
}

TEST(Factory, UnknownBackboneNamesItAndListsValidOnes) {
  const auto msg = error_of([] { nets::make_backbone(Config::parse("model: {backbone: resnet99}"), 3, 32); });
  EXPECT_NE(msg.find("resnet99"), std::string::npos) << msg;
  for (const auto& n : nets::backbone_names()) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  const auto msg2 = error_of([] { nets::make_backbone(nets::BackboneOptions("lenet", 1, 28)); });
  EXPECT_NE(msg2.find("lenet"), std::string::npos) << msg2;
}

TEST(Factory, KeysOfOtherBackbonesStayUnread) {
  auto cfg = Config::parse("model: {backbone: convnet, channels: [4], patch_size: 4}");
  nets::make_backbone(cfg, 1, 28);
  EXPECT_EQ(cfg.unused_keys(), std::vector<std::string>{"model.patch_size"});
}

TEST(Factory, OptionForAnotherBackboneIsAnError) {
  const auto msg = error_of([] { nets::make_backbone(nets::BackboneOptions("convnet", 1, 28).patch_size(4)); });
  EXPECT_NE(msg.find("patch_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("convnet"), std::string::npos) << msg;
}

TEST(Factory, ViTPatchSizeMustDivideImageSize) {
  const auto msg =
      error_of([] { nets::make_backbone(Config::parse("model: {backbone: vit_mini, patch_size: 6}"), 1, 28); });
  EXPECT_NE(msg.find("28"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6"), std::string::npos) << msg;
}

TEST(Factory, BadValuesNameTheOption) {
  EXPECT_NE(error_of([] { nets::make_backbone(nets::BackboneOptions("resnet18", 3, 32).width(-1.0)); }).find("width"),
            std::string::npos);
  EXPECT_NE(error_of([] { nets::make_backbone(nets::BackboneOptions("convnet", 0, 32)); }).find("in_channels"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              nets::make_backbone(nets::BackboneOptions("convnet", 1, 28).channels(std::vector<int64_t>{4, -2}));
            }).find("-2"),
            std::string::npos);
}

// ---- MLPHead -----------------------------------------------------------------------------------

struct LayerCounts {
  int linear = 0, bn = 0, relu = 0;
  std::shared_ptr<nets::BatchNormImpl> last_bn;
  bool last_is_bn = false;
};

LayerCounts count_layers(const nets::MLPHead& head) {
  LayerCounts c;
  for (const auto& m : head->layers->children()) {
    c.last_is_bn = false;
    if (m->as<torch::nn::LinearImpl>()) ++c.linear;
    if (m->as<torch::nn::ReLUImpl>()) ++c.relu;
    if (auto bn = std::dynamic_pointer_cast<nets::BatchNormImpl>(m)) {
      ++c.bn;
      c.last_bn = bn;
      c.last_is_bn = true;
    }
  }
  return c;
}

TEST(MLPHead, LayerStructureFollowsOptions) {
  for (int64_t layers : {1, 2, 3}) {
    nets::MLPHead head(nets::MLPHeadOptions(6, 10, 4).num_layers(layers));
    auto c = count_layers(head);
    EXPECT_EQ(c.linear, layers);
    EXPECT_EQ(c.bn, layers - 1);
    EXPECT_EQ(c.relu, layers - 1);
    EXPECT_FALSE(c.last_is_bn);
    EXPECT_EQ(head->forward(torch::randn({3, 6})).sizes(), (std::vector<int64_t>{3, 4}));
  }
  auto single = nets::MLPHead(nets::MLPHeadOptions(6, 10, 4).num_layers(1));
  EXPECT_EQ(nets::count_parameters(*single), 6 * 4 + 4);
  auto no_bn = count_layers(nets::MLPHead(nets::MLPHeadOptions(6, 10, 4).num_layers(3).batch_norm(false)));
  EXPECT_EQ(no_bn.bn, 0);
  EXPECT_EQ(no_bn.linear, 3);
}

TEST(MLPHead, LastBatchNormHasNoAffine) {
  torch::manual_seed(6);
  nets::MLPHead head(nets::MLPHeadOptions(6, 10, 4).num_layers(3).last_batch_norm(true));
  auto c = count_layers(head);
  EXPECT_EQ(c.linear, 3);
  EXPECT_EQ(c.bn, 3);
  ASSERT_TRUE(c.last_is_bn);
  EXPECT_FALSE(c.last_bn->options.affine());
  EXPECT_FALSE(c.last_bn->weight.defined());
  // Train-mode output is standardised per feature.
  auto y = head->forward(torch::randn({16, 6}));
  EXPECT_TRUE(torch::allclose(y.mean(0), torch::zeros({4}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(y.var(0, /*unbiased=*/false), torch::ones({4}), 1e-3, 1e-3));
}

TEST(MLPHead, BiasOptionAndFlops) {
  nets::MLPHead head(nets::MLPHeadOptions(6, 10, 4).num_layers(2).bias(false).batch_norm(false));
  EXPECT_EQ(nets::count_parameters(*head), 6 * 10 + 10 * 4);
  EXPECT_DOUBLE_EQ(head->forward_flops(), 6 * 10 + 10 * 4);
}

TEST(MLPHead, ValidatesOptionsAndInput) {
  EXPECT_NE(error_of([] { nets::MLPHead(nets::MLPHeadOptions(6, 10, 4).num_layers(0)); }).find("num_layers"),
            std::string::npos);
  nets::MLPHead head(nets::MLPHeadOptions(6, 10, 4));
  EXPECT_NE(error_of([&] { head->forward(torch::randn({3, 5})); }).find("[3, 5]"), std::string::npos);
}

TEST(MLPHead, ClonesDeeply) {
  nets::MLPHead head(nets::MLPHeadOptions(6, 10, 4).num_layers(3));
  head->eval();
  auto copy = std::dynamic_pointer_cast<nets::MLPHeadImpl>(head->clone());
  ASSERT_TRUE(copy);
  auto x = torch::randn({2, 6});
  EXPECT_TRUE(torch::equal(copy->forward(x), head->forward(x)));
  EXPECT_NE(copy->parameters()[0].data_ptr(), head->parameters()[0].data_ptr());
}

}  // namespace
