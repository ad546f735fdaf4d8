// Shapes, gradients, cloning, serialization and cost model of every backbone.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "selfsup/nets/nets.h"

namespace nets = selfsup::nets;
using nets::Backbone;

namespace {

struct Case {
  std::string name;
  std::function<Backbone(int64_t channels, int64_t image_size)> make;
  std::function<int64_t()> expected_dim;  // from the options, not from the built module
  std::string first_layer;                // parameter the input gradient must reach
};

std::vector<Case> cases() {
  return {
      {"convnet",
       [](int64_t c, int64_t) {
         return std::make_shared<nets::ConvNetImpl>(nets::ConvNetOptions(c).channels({4, 8, 12}).blocks_per_stage(2));
       },
       [] { return 12; }, "features.0.weight"},
      {"resnet18",
       [](int64_t c, int64_t) { return std::make_shared<nets::ResNetImpl>(nets::ResNetOptions(18, c).width(0.125)); },
       [] { return 512 / 8; }, "conv1.weight"},
      {"resnet34_imagenet_stem",
       [](int64_t c, int64_t) {
         return std::make_shared<nets::ResNetImpl>(nets::ResNetOptions(34, c).width(0.0625).cifar_stem(false));
       },
       [] { return 512 / 16; }, "conv1.weight"},
      {"vit",
       [](int64_t c, int64_t s) {
         return std::make_shared<nets::ViTImpl>(nets::ViTOptions(c, s).dim(16).depth(2).heads(2));
       },
       [] { return 16; }, "patch_embed.proj.weight"},
      {"mlp",
       [](int64_t c, int64_t s) {
         return std::make_shared<nets::MLPBackboneImpl>(nets::MLPBackboneOptions(c, s).hidden({24, 20}));
       },
       [] { return 20; }, "layers.0.weight"},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BackboneTest : public ::testing::TestWithParam<Case> {};

torch::Tensor param(const nets::BackboneImpl& b, const std::string& name) {
  auto params = b.named_parameters();
  const auto* p = params.find(name);
  if (p == nullptr) throw std::runtime_error("no parameter named " + name);
  return *p;
}

TEST_P(BackboneTest, OutputShapeAndGradientForGrayAndColorImages) {
  const auto& c = GetParam();
  for (auto [channels, size] : {std::pair<int64_t, int64_t>{1, 28}, {3, 32}}) {
    torch::manual_seed(0);
    auto b = c.make(channels, size);
    ASSERT_EQ(b->feature_dim(), c.expected_dim());
    auto y = b->forward(torch::randn({3, channels, size, size}));
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, c.expected_dim()})) << channels << "x" << size;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
    y.pow(2).sum().backward();
    auto g = param(*b, c.first_layer).grad();
    ASSERT_TRUE(g.defined()) << c.first_layer;
    EXPECT_GT(g.abs().sum().item<double>(), 0.0) << c.first_layer;
  }
}

TEST_P(BackboneTest, CloneIsEqualInEvalModeAndIndependent) {
  const auto& c = GetParam();
  torch::manual_seed(1);
  auto b = c.make(3, 32);
  auto x = torch::randn({2, 3, 32, 32});
  b->forward(torch::randn({4, 3, 32, 32}));  // moves BN running statistics away from their init
  b->eval();
  auto copy = nets::clone_backbone(b);
  EXPECT_FALSE(copy->is_training());
  EXPECT_NE(copy.get(), b.get());
  auto y = b->forward(x);
  EXPECT_TRUE(torch::equal(copy->forward(x), y));

  auto bp = b->named_parameters();
  auto cp = copy->named_parameters();
  ASSERT_EQ(bp.size(), cp.size());
  for (size_t i = 0; i < bp.size(); ++i) {
    EXPECT_NE(bp[i].value().data_ptr(), cp[i].value().data_ptr()) << bp[i].key();
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& p : copy->parameters()) p.add_(0.5);
    for (auto& buf : copy->buffers()) {
      if (buf.is_floating_point()) buf.add_(0.5);
    }
  }
  EXPECT_TRUE(torch::equal(b->forward(x), y));
  EXPECT_FALSE(torch::allclose(copy->forward(x), y));
}

TEST_P(BackboneTest, SaveLoadRoundTripInsideParent) {
  const auto& c = GetParam();
  struct ParentImpl : torch::nn::Module {
    explicit ParentImpl(Backbone b) : backbone(register_module("backbone", std::move(b))) {
      head = register_module("head", torch::nn::Linear(backbone->feature_dim(), 2));
    }
    torch::Tensor forward(const torch::Tensor& x) { return head(backbone->forward(x)); }
    Backbone backbone;
    torch::nn::Linear head{nullptr};
  };
  torch::manual_seed(2);
  auto saved = std::make_shared<ParentImpl>(c.make(1, 28));
  saved->forward(torch::randn({4, 1, 28, 28}));  // non-trivial BN statistics
  saved->eval();
  const std::string path = ::testing::TempDir() + "nets_roundtrip_" + c.name + ".pt";
  torch::save(saved, path);

  torch::manual_seed(3);
  auto loaded = std::make_shared<ParentImpl>(c.make(1, 28));
  loaded->eval();
  auto x = torch::randn({2, 1, 28, 28});
  ASSERT_FALSE(torch::allclose(loaded->forward(x), saved->forward(x)));
  torch::load(loaded, path);
  loaded->eval();
  EXPECT_TRUE(torch::equal(loaded->forward(x), saved->forward(x)));
  std::remove(path.c_str());
}

TEST_P(BackboneTest, RejectsWrongChannelCount) {
  const auto& c = GetParam();
  auto b = c.make(3, 32);
  try {
    b->forward(torch::randn({2, 1, 32, 32}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("[2, 1, 32, 32]"), std::string::npos) << e.msg();
  }
}

INSTANTIATE_TEST_SUITE_P(All, BackboneTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Clone, KeepsRequiresGradAndTrainingFlags) {
  auto b = nets::make_backbone(nets::BackboneOptions("convnet", 1, 28).channels(std::vector<int64_t>{4, 8}));
  for (auto& p : b->parameters()) p.set_requires_grad(false);
  b->train();
  auto copy = nets::clone_backbone(b);
  EXPECT_TRUE(copy->is_training());
  for (auto& p : copy->parameters()) EXPECT_FALSE(p.requires_grad());
  EXPECT_EQ(nets::count_parameters(*copy), nets::count_parameters(*b));
  EXPECT_EQ(nets::count_parameters(*copy, /*trainable_only=*/true), 0);
}

// A torch::nn::Cloneable parent rebuilds its children in reset(); the backbone must then take the
// original's weights instead of keeping the fresh ones.
TEST(Clone, CloneableParentCopiesBackboneWeights) {
  struct ParentImpl : torch::nn::Cloneable<ParentImpl> {
    ParentImpl() { reset(); }
    void reset() override {
      backbone = register_module("backbone", nets::make_backbone(nets::BackboneOptions("resnet18", 1, 28).width(0.0625)));
    }
    Backbone backbone;
  };
  torch::manual_seed(4);
  auto parent = std::make_shared<ParentImpl>();
  parent->eval();
  auto copy = std::dynamic_pointer_cast<ParentImpl>(parent->clone());
  ASSERT_TRUE(copy);
  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(copy->backbone->forward(x), parent->backbone->forward(x)));
  EXPECT_NE(copy->backbone.get(), parent->backbone.get());
}

TEST(ConvNet, RunsInDoublePrecision) {
  auto b = nets::ConvNet(nets::ConvNetOptions(1).channels({4, 8}));
  b->to(torch::kFloat64);
  auto y = b->forward(torch::randn({2, 1, 28, 28}, torch::kFloat64));
  EXPECT_EQ(y.scalar_type(), torch::kFloat64);
  auto copy = nets::clone_backbone(b.ptr());
  EXPECT_EQ(copy->parameters()[0].scalar_type(), torch::kFloat64);
}

TEST(ConvNet, RejectsImagesTooSmallForItsStages) {
  auto b = nets::ConvNet(nets::ConvNetOptions(1).channels({4, 8, 8, 8}));  // needs 8 px
  EXPECT_NO_THROW(b->forward(torch::randn({2, 1, 8, 8})));
  EXPECT_THROW(b->forward(torch::randn({2, 1, 7, 8})), c10::Error);
}

TEST(ResNet, MatchesTorchvisionParameterCountsAndNames) {
  // torchvision resnet18 / resnet34 with fc removed: 11,176,512 and 21,284,672 parameters; with
  // solo-learn's CIFAR stem (3x3 conv1): 11,168,832 and 21,276,992.
  EXPECT_EQ(nets::count_parameters(nets::ResNetImpl(nets::ResNetOptions(18, 3).cifar_stem(false))), 11176512);
  EXPECT_EQ(nets::count_parameters(nets::ResNetImpl(nets::ResNetOptions(34, 3).cifar_stem(false))), 21284672);
  nets::ResNetImpl r18(nets::ResNetOptions(18, 3));
  EXPECT_EQ(nets::count_parameters(r18), 11168832);
  EXPECT_EQ(r18.feature_dim(), 512);
  auto state = r18.named_buffers();
  EXPECT_NE(state.find("layer1.0.bn1.running_mean"), nullptr);
  EXPECT_NE(state.find("layer4.1.bn2.num_batches_tracked"), nullptr);
  auto params = r18.named_parameters();
  EXPECT_NE(params.find("layer2.0.downsample.0.weight"), nullptr);
  EXPECT_NE(params.find("layer3.0.downsample.1.bias"), nullptr);
  EXPECT_EQ(params.find("layer1.0.downsample.0.weight"), nullptr);  // identity shortcut
}

TEST(ResNet, ZeroInitResidualZeroesLastBNOfEveryBlock) {
  nets::ResNetImpl plain(nets::ResNetOptions(18, 1).width(0.0625));
  nets::ResNetImpl zero(nets::ResNetOptions(18, 1).width(0.0625).zero_init_residual(true));
  int blocks = 0;
  for (const auto& kv : zero.named_parameters()) {
    if (kv.key().find("bn2.weight") != std::string::npos) {
      ++blocks;
      EXPECT_EQ(kv.value().abs().sum().item<double>(), 0.0) << kv.key();
      EXPECT_GT(plain.named_parameters()[kv.key()].abs().sum().item<double>(), 0.0) << kv.key();
    }
  }
  EXPECT_EQ(blocks, 8);
}

TEST(ResNet, RejectsUnsupportedDepth) {
  try {
    nets::ResNetImpl r(nets::ResNetOptions(50, 3));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("50"), std::string::npos) << e.msg();
  }
}

TEST(ViT, ImageSizeMustBeDivisibleByPatchSize) {
  try {
    nets::ViTImpl v(nets::ViTOptions(1, 28).patch_size(5).dim(8).depth(1).heads(2));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    const std::string msg = e.msg();
    EXPECT_NE(msg.find("28"), std::string::npos) << msg;
    EXPECT_NE(msg.find("patch_size 5"), std::string::npos) << msg;
  }
  EXPECT_THROW(nets::ViTImpl(nets::ViTOptions(1, 28).dim(10).heads(4)), c10::Error);  // 10 % 4
}

TEST(ViT, PiecesComposeToForwardAndExposeTokens) {
  torch::manual_seed(5);
  nets::ViT v(nets::ViTOptions(3, 32).patch_size(8).dim(16).depth(2).heads(4));
  EXPECT_EQ(v->num_patches(), 16);
  EXPECT_EQ(v->pos_embed.sizes(), (std::vector<int64_t>{1, 17, 16}));
  EXPECT_EQ(v->blocks->size(), 2u);
  auto x = torch::randn({2, 3, 32, 32});
  auto tokens = v->forward_tokens(x);
  ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 17, 16}));
  EXPECT_TRUE(torch::allclose(v->forward(x), tokens.select(1, 0), 1e-5, 1e-6));
  // The CLS output depends on every patch (attention mixes tokens).
  auto x2 = x.clone();
  x2.select(0, 0).narrow(1, 24, 8).narrow(2, 24, 8).add_(1.0);
  auto d = (v->forward(x2) - v->forward(x)).abs().sum(1);
  EXPECT_GT(d[0].item<double>(), 0.0);
  EXPECT_EQ(d[1].item<double>(), 0.0);
}

TEST(ViT, MeanPoolingAveragesTheNormalisedPatchTokens) {
  torch::manual_seed(6);
  nets::ViT cls(nets::ViTOptions(1, 8).patch_size(4).dim(8).depth(1).heads(2));
  nets::ViT mean(nets::ViTOptions(1, 8).patch_size(4).dim(8).depth(1).heads(2).pool("mean"));
  nets::copy_state(*cls, *mean);
  const auto x = torch::randn({3, 1, 8, 8});
  const auto tokens = cls->forward_tokens(x);
  EXPECT_TRUE(torch::allclose(mean->forward(x), tokens.narrow(1, 1, 4).mean(1), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(mean->forward(x), cls->forward(x), 1e-3, 1e-3));
  try {
    nets::ViTImpl bad(nets::ViTOptions(1, 8).patch_size(4).dim(8).depth(1).heads(2).pool("max"));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.msg()).find("'max'"), std::string::npos) << e.msg();
  }
}

TEST(ViT, LayerDecayScalesFallTowardsTheInput) {
  nets::ViTImpl v(nets::ViTOptions(1, 8).patch_size(4).dim(8).depth(2).heads(2));
  const auto scales = nets::layer_decay_scales(v, 0.5);
  std::map<const void*, double> scale_of;
  for (const auto& [p, s] : scales) scale_of[p.unsafeGetTensorImpl()] = s;
  // Every parameter gets exactly one scale.
  EXPECT_EQ(scales.size(), v.parameters().size());
  for (const auto& kv : v.named_parameters()) {
    const std::string& name = kv.key();
    const double expected = name.rfind("blocks.0.", 0) == 0 ? 0.25
                            : name.rfind("blocks.1.", 0) == 0 ? 0.5
                            : name.rfind("norm.", 0) == 0     ? 1.0
                                                              : 0.125;  // patch_embed, cls_token, pos_embed
    ASSERT_TRUE(scale_of.count(kv.value().unsafeGetTensorImpl())) << name;
    EXPECT_DOUBLE_EQ(scale_of[kv.value().unsafeGetTensorImpl()], expected) << name;
  }
  for (const double bad : {0.0, 1.5, -0.5}) {
    try {
      nets::layer_decay_scales(v, bad);
      FAIL() << bad << " was accepted";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.msg()).find("train.layer_decay must be in (0, 1]"), std::string::npos) << e.msg();
    }
  }
}

TEST(ViT, MiniPresetAndDefaults) {
  auto tiny = nets::ViTOptions(3, 32);
  EXPECT_EQ(tiny.dim(), 192);
  EXPECT_EQ(tiny.depth(), 12);
  EXPECT_EQ(tiny.heads(), 3);
  EXPECT_EQ(tiny.patch_size(), 4);
  EXPECT_EQ(nets::ViTOptions(3, 224).patch_size(), 16);
  auto mini = nets::ViTOptions::mini(1, 28);
  EXPECT_EQ(mini.dim(), 128);
  EXPECT_EQ(mini.depth(), 6);
  EXPECT_EQ(mini.heads(), 4);
}

// ---- forward_flops -----------------------------------------------------------------------------

TEST(Flops, TinyConvNetByHand) {
  // 4x4 input, channels {2, 3}, 2 blocks per stage:
  //   stage 1 at 4x4: 16*1*2*9 + 16*2*2*9 = 288 + 576; pool -> 2x2
  //   stage 2 at 2x2: 4*2*3*9 + 4*3*3*9 = 216 + 324          total 1404
  nets::ConvNetImpl net(nets::ConvNetOptions(1).channels({2, 3}).blocks_per_stage(2));
  EXPECT_DOUBLE_EQ(nets::forward_flops(net, 4), 1404.0);
  // Odd sizes floor at the pool: 5x5 -> 2x2.
  EXPECT_DOUBLE_EQ(nets::forward_flops(net, 5, 5), 25 * 18 + 25 * 36 + 216 + 324);
}

TEST(Flops, ResNetMatchesTorchvisionConvCount) {
  // Multiply-accumulates of every Conv2d of torchvision's resnet18/34 (fc removed), counted with
  // forward hooks in PyTorch: ImageNet stem at 224x224 and at 100x90; CIFAR stem at 32x32.
  nets::ResNetImpl r18(nets::ResNetOptions(18, 3).cifar_stem(false));
  EXPECT_DOUBLE_EQ(r18.forward_flops(224, 224), 1813561344.0);
  EXPECT_DOUBLE_EQ(r18.forward_flops(100, 90), 376487808.0);
  nets::ResNetImpl r34(nets::ResNetOptions(34, 3).cifar_stem(false));
  EXPECT_DOUBLE_EQ(r34.forward_flops(224, 224), 3663249408.0);
  EXPECT_DOUBLE_EQ(r34.forward_flops(100, 90), 765697920.0);
  EXPECT_DOUBLE_EQ(nets::ResNetImpl(nets::ResNetOptions(18, 3)).forward_flops(32, 32), 555417600.0);
  EXPECT_DOUBLE_EQ(nets::ResNetImpl(nets::ResNetOptions(34, 3)).forward_flops(32, 32), 1159397376.0);
}

TEST(Flops, TinyViTAndMLPByHand) {
  // 4x4 image, patch 2 -> 4 patches, 5 tokens, dim 4, mlp hidden 8:
  //   patch embedding 4*4*1*2*2 = 64; block: linear 5*4*(12+4+16) = 640, attention 2*25*4 = 200.
  nets::ViTImpl vit(nets::ViTOptions(1, 4).patch_size(2).dim(4).depth(1).heads(2).mlp_ratio(2.0));
  EXPECT_DOUBLE_EQ(nets::forward_flops(vit, 4), 904.0);
  nets::MLPBackboneImpl mlp(nets::MLPBackboneOptions(1, 3).hidden({5, 2}));
  EXPECT_DOUBLE_EQ(nets::forward_flops(mlp, 3), 9 * 5 + 5 * 2);
}

}  // namespace
