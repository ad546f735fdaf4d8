// The `regularize:` list: parsing and its errors, the layers a pattern picks, the penalty's
// gradient added before the optimizer step, and thresholding during training.
#include "selfsup/train/regularize.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "selfsup/nets/batchnorm.h"
#include "support/error_of.h"
#include "train_test_util.h"

using namespace selfsup;
namespace F = selfsup::functional;

namespace {

// conv [4, 2, 3, 3] - batch norm (4) -> conv [3, 4, 3, 3] -> linear [5, 3]
struct TinyNet : torch::nn::Module {
  TinyNet() {
    torch::manual_seed(3);
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).bias(false)));
    bn1 = register_module("bn1", nets::BatchNorm(4));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 3, 3)));
    fc = register_module("fc", torch::nn::Linear(3, 5));
    torch::NoGradGuard g;
    bn1->weight.uniform_(0.5, 1.5);
    bn1->bias.uniform_(-0.5, 0.5);
  }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
  nets::BatchNorm bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

Config with_list(const std::string& yaml_list) { return Config::parse("regularize: " + yaml_list); }

std::string parse_error(const std::string& yaml_list) {
  return selfsup::testing::error_of([&] {
    TinyNet net;
    train::regularization_from_config(with_list(yaml_list), net);
  });
}

}  // namespace

TEST(Regularize, GlobMatch) {
  EXPECT_TRUE(train::glob_match("*", "backbone.features.0"));
  EXPECT_TRUE(train::glob_match("backbone.*.0", "backbone.features.0"));
  EXPECT_TRUE(train::glob_match("c?", "c1"));
  EXPECT_FALSE(train::glob_match("c?", "c12"));
  EXPECT_FALSE(train::glob_match("backbone.*", "classifier.fc"));
  EXPECT_TRUE(train::glob_match("*conv*", "layer1.0.conv2"));
  EXPECT_FALSE(train::glob_match("", "x"));
}

TEST(Regularize, PicksLayersAndSumsThePenalties) {
  TinyNet net;
  auto cfg = with_list(
      "[{type: group_lasso, group: channels, strength: 0.5}, {type: l1, strength: 0.1, layers: fc},"
      " {type: l2, strength: 0.2, layers: 'c*'}]");
  auto reg = train::regularization_from_config(cfg, net);
  ASSERT_TRUE(reg);
  EXPECT_TRUE(cfg.unused_keys().empty());
  ASSERT_EQ(reg->terms().size(), 3u);
  // No layers given: every convolution; a pattern picks by name, linear layers included.
  EXPECT_EQ(reg->terms()[0].layers.size(), 2u);
  EXPECT_EQ(reg->terms()[1].layers.size(), 1u);
  EXPECT_EQ(reg->terms()[1].layers[0].first, "fc");
  EXPECT_EQ(reg->terms()[2].layers.size(), 2u);
  const double expected =
      0.5 * (F::group_norms(net.c1->weight, F::Group::Channels).sum() + F::group_norms(net.c2->weight, F::Group::Channels).sum())
                .item<double>() +
      0.1 * net.fc->weight.abs().sum().item<double>() +
      0.2 * (net.c1->weight.pow(2).sum() + net.c2->weight.pow(2).sum()).item<double>();
  EXPECT_NEAR(reg->penalty().item<double>(), expected, 1e-5);
}

TEST(Regularize, AddsThePenaltyGradientBeforeTheStep) {
  TinyNet net;
  auto reg = train::regularization_from_config(with_list("[{type: group_lasso, group: filters, strength: 0.3}]"), net);
  for (auto& p : net.parameters()) p.mutable_grad() = torch::ones_like(p);
  train::LoopState s;
  methods::StepOutput out;
  reg->before_optimizer_step(s, out);
  // Filter o of c1 with bn1's weight and bias o is one group: d/dw 0.3 ||g_o|| = 0.3 w_o / ||g_o||,
  // added to the gradient already there. c2 has no batch norm after it: its filters alone.
  const auto w = net.c1->weight.detach(), gamma = net.bn1->weight.detach(), beta = net.bn1->bias.detach();
  const auto joint = (w.reshape({4, -1}).pow(2).sum(1) + gamma.pow(2) + beta.pow(2)).sqrt();
  EXPECT_TRUE(torch::allclose(net.c1->weight.grad(), 1 + 0.3 * w / joint.view({4, 1, 1, 1}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(net.bn1->weight.grad(), 1 + 0.3 * gamma / joint, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(net.bn1->bias.grad(), 1 + 0.3 * beta / joint, 1e-5, 1e-6));
  const auto w2 = net.c2->weight.detach();
  EXPECT_TRUE(torch::allclose(net.c2->weight.grad(), 1 + 0.3 * w2 / w2.reshape({3, -1}).norm(2, 1).view({3, 1, 1, 1}),
                              1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(net.fc->weight.grad(), torch::ones_like(net.fc->weight)));  // not picked
  EXPECT_NEAR(out.metrics.at("reg_penalty"), reg->penalty().item<double>(), 1e-6);
}

TEST(Regularize, ThresholdZeroesSmallGroupsOfPickedLayersOnly) {
  for (bool with_bn : {true, false}) {
    TinyNet net;
    const auto norms = with_bn ? F::joint_filter_norms({net.c1->weight, net.bn1->weight, net.bn1->bias})
                               : F::group_norms(net.c1->weight, F::Group::Filters);
    const double threshold = norms.median().item<double>();
    auto reg = train::regularization_from_config(
        with_list("[{type: group_lasso, group: filters, strength: 0.1, layers: c1, threshold: " +
                  std::to_string(threshold) + ", batchnorm: " + (with_bn ? "true" : "false") + "}]"),
        net);
    const auto c2_before = net.c2->weight.detach().clone();
    const auto gamma_before = net.bn1->weight.detach().clone();
    const int64_t zero = reg->apply_thresholds();
    EXPECT_EQ(zero, (norms < threshold).sum().item<int64_t>());
    EXPECT_GT(zero, 0);
    EXPECT_TRUE(torch::equal(F::group_norms(net.c1->weight, F::Group::Filters) == 0, norms < threshold));
    // The batch norm's entries go with their filter, or stay when it is not in the group.
    EXPECT_TRUE(torch::equal(net.bn1->weight == 0, with_bn ? norms < threshold : torch::zeros({4}, torch::kBool)));
    if (!with_bn) {
      EXPECT_TRUE(torch::equal(net.bn1->weight, gamma_before));
    }
    EXPECT_TRUE(torch::equal(net.c2->weight, c2_before));
  }
}

TEST(Regularize, BadItemsAreOneClearErrorEach) {
  EXPECT_NE(parse_error("[{type: group_lasso, group: filter, strength: 1}]")
                .find("regularize[0].group: unknown group 'filter' (known: kernels, channels, filters, rows, cols, layer)"),
            std::string::npos);
  EXPECT_NE(parse_error("[{type: l1, strength: 1}, {type: l2, strength: -0.5}]")
                .find("regularize[1].strength must be a finite number >= 0, got -0.5"),
            std::string::npos);
  const auto nothing = parse_error("[{type: l1, strength: 1, layers: 'backbone.*'}]");
  EXPECT_NE(nothing.find("regularize[0].layers 'backbone.*' matches no layer (layers: c1, c2, fc)"), std::string::npos)
      << nothing;
  EXPECT_NE(parse_error("[{type: l3, strength: 1}]").find("regularize[0].type: unknown regularizer 'l3'"),
            std::string::npos);
  EXPECT_NE(parse_error("[{type: l1, strenght: 1}]").find("regularize[0]: unknown key 'strenght'"), std::string::npos);
  EXPECT_NE(parse_error("[{type: l1, strength: 1, threshold: 0.1}]").find("apply to type group_lasso"),
            std::string::npos);
  EXPECT_NE(parse_error("[{type: group_lasso, group: kernels, strength: 1, layers: fc}]").find("group kernels needs"),
            std::string::npos);
  EXPECT_NE(parse_error("{type: l1}").find("regularize must be a list"), std::string::npos);
  EXPECT_NE(parse_error("[{type: group_lasso, group: channels, strength: 1, batchnorm: true}]")
                .find("batchnorm applies to group filters, not channels"),
            std::string::npos);
  EXPECT_NE(parse_error("[{type: l1}]").find("regularize[0]: needs a strength"), std::string::npos);
  TinyNet net;
  EXPECT_EQ(train::regularization_from_config(Config::parse("seed: 1"), net), nullptr);
}

// A short training run: the penalty is logged, and at the end every picked group is either zero
// or at least the threshold.
TEST(Regularize, TrainingWithGroupLassoLeavesOnlyZeroOrLargeGroups) {
  auto cfg = trainutil::tiny_config("simclr");
  const double threshold = 1.414;
  cfg.set("regularize", YAML::Load("[{type: group_lasso, group: filters, strength: 0.01, layers: 'backbone.features.4',"
                                   " threshold: 1.414}]"));
  const auto dir = trainutil::fresh_dir("regularize");
  auto run = trainutil::build_run(cfg, train::TrainerOptions().max_steps(3).log_every_steps(1).progress(false), dir);
  auto reg = train::regularization_from_config(cfg, *run->method);
  const auto* terms = &reg->terms();
  run->trainer->add_hook(std::move(reg));
  run->trainer->fit();
  int64_t zero = 0, groups = 0;
  ASSERT_EQ((*terms)[0].joint.size(), 1u);
  ASSERT_EQ((*terms)[0].joint[0].size(), 3u);  // the conv's weight, its batch norm's weight and bias
  for (const auto& parts : (*terms)[0].joint) {
    const auto n = F::joint_filter_norms(parts);
    EXPECT_EQ(((n > 0) & (n < threshold)).sum().item<int64_t>(), 0);
    zero += (n == 0).sum().item<int64_t>();
    groups += n.numel();
  }
  EXPECT_GT(zero, 0);
  EXPECT_LT(zero, groups);
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_GT(nlohmann::json::parse(line).at("reg_penalty").get<double>(), 0.0) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 3);
}
