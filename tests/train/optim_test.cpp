// Schedule, optimizer groups, LARS and the EMA of weights.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/train/optim.h"

using namespace selfsup;
using train::Optimizer;
using train::OptimizerOptions;

namespace {

TEST(WarmupCosine, EndpointsAndMonotonicity) {
  train::WarmupCosine s{10, 110, 0.1, 0.01};
  EXPECT_DOUBLE_EQ(s.factor(0), 0.1);
  EXPECT_DOUBLE_EQ(s.factor(5), 0.1 + 0.9 * 0.5);
  EXPECT_DOUBLE_EQ(s.factor(10), 1.0);
  EXPECT_NEAR(s.factor(60), 0.01 + 0.99 * 0.5, 1e-12);  // half-way through the cosine
  EXPECT_NEAR(s.factor(110), 0.01, 1e-12);
  EXPECT_NEAR(s.factor(500), 0.01, 1e-12);  // past the end it stays at the floor
  for (int64_t k = 1; k <= 10; ++k) EXPECT_GT(s.factor(k), s.factor(k - 1)) << k;
  for (int64_t k = 11; k <= 110; ++k) EXPECT_LT(s.factor(k), s.factor(k - 1)) << k;

  train::WarmupCosine plain{0, 4, 0.0, 0.0};
  EXPECT_DOUBLE_EQ(plain.factor(0), 1.0);
  EXPECT_NEAR(plain.factor(2), 0.5, 1e-12);
  EXPECT_NEAR(plain.factor(4), 0.0, 1e-12);
}

/// A linear layer (weight rank 2, bias rank 1) and a batch norm (rank-1 scale and shift).
struct TwoLayerNet : torch::nn::Module {
  TwoLayerNet() {
    fc = register_module("fc", torch::nn::Linear(4, 3));
    bn = register_module("bn", torch::nn::BatchNorm1d(3));
    torch::NoGradGuard g;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-1, 1);
    fc->bias.uniform_(-1, 1);
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

void zero_grads(torch::nn::Module& m) {
  for (auto& p : m.parameters()) p.mutable_grad() = torch::zeros_like(p);
}

class DecayGroups : public ::testing::TestWithParam<std::string> {};

TEST_P(DecayGroups, OnlyRankTwoAndAboveDecay) {
  torch::manual_seed(0);
  TwoLayerNet net;
  auto w0 = net.fc->weight.detach().clone();
  auto b0 = net.fc->bias.detach().clone(), g0 = net.bn->weight.detach().clone(),
       s0 = net.bn->bias.detach().clone();
  const double lr = 0.5, wd = 0.1;
  Optimizer opt(net.parameters(), OptimizerOptions().name(GetParam()).lr(lr).weight_decay(wd).momentum(0.0));
  zero_grads(net);
  opt.step();
  // With a zero gradient only the decay moves a weight: SGD's coupled decay and AdamW's decoupled
  // one both give w (1 - lr wd) for one step.
  EXPECT_TRUE(torch::allclose(net.fc->weight, w0 * (1 - lr * wd), 1e-6, 1e-7)) << GetParam();
  EXPECT_TRUE(torch::equal(net.fc->bias, b0)) << GetParam();
  EXPECT_TRUE(torch::equal(net.bn->weight, g0)) << GetParam();
  EXPECT_TRUE(torch::equal(net.bn->bias, s0)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Optimizers, DecayGroups, ::testing::Values("sgd", "adamw"),
                         [](const auto& info) { return info.param; });

TEST(Optimizer, DecayOfBiasesWhenNotExcluded) {
  torch::manual_seed(1);
  TwoLayerNet net;
  auto b0 = net.fc->bias.detach().clone();
  Optimizer opt(net.parameters(),
                OptimizerOptions().lr(0.5).weight_decay(0.1).momentum(0.0).exclude_bias_and_norm(false));
  zero_grads(net);
  opt.step();
  EXPECT_TRUE(torch::allclose(net.fc->bias, b0 * 0.95, 1e-6, 1e-7));
}

TEST(Optimizer, RejectsUnknownNameAndBadHyperParameters) {
  TwoLayerNet net;
  try {
    Optimizer(net.parameters(), OptimizerOptions().name("adamm"));
    FAIL() << "an unknown optimizer was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("adamm"), std::string::npos) << e.msg();
    EXPECT_NE(e.msg().find("train.optimizer"), std::string::npos) << e.msg();
  }
  EXPECT_THROW(Optimizer(net.parameters(), OptimizerOptions().lr(-1)), c10::Error);
  EXPECT_THROW(Optimizer(net.parameters(), OptimizerOptions().momentum(1.0)), c10::Error);
  EXPECT_THROW(Optimizer(net.parameters(), OptimizerOptions().weight_decay(-0.1)), c10::Error);
}

TEST(Optimizer, ReadsItsOptionsFromConfig) {
  auto cfg = Config::parse("train: {optimizer: lars, lr: 0.3, weight_decay: 1.0e-5, betas: [0.8, 0.9], lars_eta: 0.01}");
  auto o = OptimizerOptions::from_config(cfg);
  EXPECT_EQ(o.name(), "lars");
  EXPECT_DOUBLE_EQ(o.lr(), 0.3);
  EXPECT_DOUBLE_EQ(o.weight_decay(), 1e-5);
  EXPECT_DOUBLE_EQ(o.beta1(), 0.8);
  EXPECT_DOUBLE_EQ(o.beta2(), 0.9);
  EXPECT_DOUBLE_EQ(o.eta(), 0.01);
  EXPECT_THROW(OptimizerOptions::from_config(Config::parse("train: {betas: [0.9]}")), c10::Error);
}

class LarsTrust : public ::testing::TestWithParam<bool> {};

TEST_P(LarsTrust, MatchesHandComputation) {
  const bool clip = GetParam();
  torch::manual_seed(2);
  auto w = torch::randn({5, 3}, torch::kFloat64).requires_grad_(true);
  auto b = torch::randn({3}, torch::kFloat64).requires_grad_(true);
  auto gw = torch::randn({5, 3}, torch::kFloat64), gb = torch::randn({3}, torch::kFloat64);
  const auto w0 = w.detach().clone(), b0 = b.detach().clone();
  const double lr = 0.7, wd = 0.05, eta = 0.02;
  Optimizer opt({w, b}, OptimizerOptions().name("lars").lr(lr).weight_decay(wd).eta(eta).momentum(0.0).clip_lr(clip));
  w.mutable_grad() = gw.clone();
  b.mutable_grad() = gb.clone();
  opt.step();

  // solo-learn's LARS, by hand: trust = eta |w| / (|g| + wd |w| + eps), optionally min(trust/lr, 1).
  const double pn = std::sqrt((w0 * w0).sum().item<double>());
  const double gn = std::sqrt((gw * gw).sum().item<double>());
  double trust = eta * pn / (gn + wd * pn + 1e-8);
  if (clip) trust = std::min(trust / lr, 1.0);
  auto expect_w = w0 - lr * trust * (gw + wd * w0);
  EXPECT_TRUE(torch::allclose(w.detach(), expect_w, 1e-12, 1e-12)) << (w.detach() - expect_w).abs().max();
  // The rank-1 parameter is neither adapted nor decayed: a plain SGD step.
  EXPECT_TRUE(torch::allclose(b.detach(), b0 - lr * gb, 1e-12, 1e-12));
}

INSTANTIATE_TEST_SUITE_P(Clip, LarsTrust, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "clip_lr" : "no_clip"; });

TEST(Optimizer, LrFactorScalesEveryGroupAndTheStep) {
  torch::manual_seed(3);
  TwoLayerNet net;
  Optimizer opt(net.parameters(), OptimizerOptions().lr(0.2).weight_decay(0.0).momentum(0.0));
  EXPECT_DOUBLE_EQ(opt.lr(), 0.2);
  opt.set_lr_factor(0.25);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.05);
  ASSERT_EQ(opt.impl().param_groups().size(), 2u);
  for (auto& g : opt.impl().param_groups()) EXPECT_DOUBLE_EQ(g.options().get_lr(), 0.05);
  auto w0 = net.fc->weight.detach().clone(), b0 = net.fc->bias.detach().clone();
  for (auto& p : net.parameters()) p.mutable_grad() = torch::ones_like(p);
  opt.step();
  EXPECT_TRUE(torch::allclose(net.fc->weight, w0 - 0.05));
  EXPECT_TRUE(torch::allclose(net.fc->bias, b0 - 0.05));
  opt.zero_grad();
  for (auto& p : net.parameters()) EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0);
}

Optimizer::LrScales at_scale(const std::vector<torch::Tensor>& params, double scale) {
  Optimizer::LrScales out;
  for (const auto& p : params) out.emplace_back(p, scale);
  return out;
}

TEST(Optimizer, SlowerParametersStepAtTheirScaleOfTheScheduledLr) {
  torch::manual_seed(4);
  TwoLayerNet net;
  // The linear layer is "the encoder" here: 0.1 of the lr for its weight and bias alike.
  Optimizer opt(net.parameters(), OptimizerOptions().lr(0.2).weight_decay(0.0).momentum(0.0),
                at_scale(net.fc->parameters(), 0.1));
  ASSERT_EQ(opt.impl().param_groups().size(), 4u);
  opt.set_lr_factor(0.5);
  EXPECT_DOUBLE_EQ(opt.lr(), 0.1);
  auto w0 = net.fc->weight.detach().clone(), b0 = net.fc->bias.detach().clone();
  auto g0 = net.bn->weight.detach().clone();
  for (auto& p : net.parameters()) p.mutable_grad() = torch::ones_like(p);
  opt.step();
  EXPECT_TRUE(torch::allclose(net.fc->weight, w0 - 0.01));
  EXPECT_TRUE(torch::allclose(net.fc->bias, b0 - 0.01));
  EXPECT_TRUE(torch::allclose(net.bn->weight, g0 - 0.1));
  // A scale of 1 keeps the two groups of before; a non-positive one is refused.
  EXPECT_EQ(Optimizer(net.parameters(), OptimizerOptions(), at_scale(net.fc->parameters(), 1.0)).impl().param_groups().size(),
            2u);
  try {
    Optimizer(net.parameters(), OptimizerOptions(), at_scale(net.fc->parameters(), 0.0));
    FAIL() << "a zero scale was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("a learning-rate scale must be positive, got 0"), std::string::npos) << e.msg();
  }
}

TEST(Optimizer, EachScaleGetsItsOwnGroups) {
  torch::manual_seed(5);
  TwoLayerNet net;
  // Weight and bias at two different scales: two more pairs of groups, in the order first used.
  Optimizer::LrScales scales{{net.fc->weight, 0.5}, {net.fc->bias, 0.25}};
  Optimizer opt(net.parameters(), OptimizerOptions().lr(0.4).weight_decay(0.0).momentum(0.0), scales);
  ASSERT_EQ(opt.impl().param_groups().size(), 6u);
  auto w0 = net.fc->weight.detach().clone(), b0 = net.fc->bias.detach().clone();
  for (auto& p : net.parameters()) p.mutable_grad() = torch::ones_like(p);
  opt.step();
  EXPECT_TRUE(torch::allclose(net.fc->weight, w0 - 0.2));
  EXPECT_TRUE(torch::allclose(net.fc->bias, b0 - 0.1));
}

}  // namespace
