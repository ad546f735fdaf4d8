#include "selfsup/losses/flexmatch.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "selfsup/losses/pseudo_label.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace L = selfsup::losses;
namespace T = selfsup::testing;

namespace {

// USB's hook written out: a Counter over the memory, beta(c) = count(c) / the largest count
// (the -1 bin included with warmup), T(c) = tau M(beta(c)).
std::vector<double> thresholds_naive(const std::vector<int64_t>& selected,
                                     const F::FlexMatchThresholdsOptions& o) {
  std::map<int64_t, double> counter;
  for (int64_t s : selected) counter[s] += 1;
  double largest = 0;
  for (const auto& [key, n] : counter) {
    if (key >= 0 || o.warmup()) largest = std::max(largest, n);
  }
  std::vector<double> t(o.num_classes());
  for (int64_t c = 0; c < o.num_classes(); ++c) {
    const double beta = largest > 0 ? counter[c] / largest : 0.0;
    t[c] = o.threshold() * (o.mapping() == F::FlexMatchMapping::kConvex ? beta / (2 - beta) : beta);
  }
  return t;
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

}  // namespace

TEST(FlexMatch, ThresholdsMatchNaiveCounter) {
  for (bool warmup : {true, false}) {
    for (auto mapping : {F::FlexMatchMapping::kConvex, F::FlexMatchMapping::kLinear}) {
      for (int64_t unused : {0, 30, 90}) {  // of 100 samples; 90: the -1 bin dominates
        const auto o = F::FlexMatchThresholdsOptions(100, 4).warmup(warmup).mapping(mapping);
        auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(unused));
        auto selected = torch::randint(0, 4, {100}, gen, torch::kLong);
        selected.narrow(0, 0, unused).fill_(-1);
        const auto got = F::flexmatch_thresholds(selected, o).thresholds;
        const auto want = thresholds_naive(to_vector(selected), o);
        for (int64_t c = 0; c < 4; ++c) EXPECT_NEAR(got[c].item<double>(), want[c], 1e-15);
      }
    }
  }
}

TEST(FlexMatch, ClosedForms) {
  // 10 samples: 3 of class 0, 1 of class 1, 6 unused.
  const auto selected = torch::tensor({0, 0, 0, 1, -1, -1, -1, -1, -1, -1}, torch::kLong);
  const auto o = F::FlexMatchThresholdsOptions(10, 3);
  const auto warm = F::flexmatch_thresholds(selected, o);  // beta = {3, 1, 0} / 6
  EXPECT_TRUE(torch::allclose(warm.thresholds, torch::tensor({0.95 / 3, 0.95 / 11, 0.0}, torch::kFloat64)));
  const auto cold = F::flexmatch_thresholds(selected, F::FlexMatchThresholdsOptions(o).warmup(false));
  EXPECT_TRUE(torch::allclose(cold.beta, torch::tensor({1.0, 1.0 / 3, 0.0}, torch::kFloat64)));
  EXPECT_TRUE(torch::allclose(cold.thresholds, torch::tensor({0.95, 0.95 / 5, 0.0}, torch::kFloat64)));
  // Nothing selected yet: beta = 0 (thresholds 0, every pseudo-label accepted), both ways.
  for (bool warmup : {true, false}) {
    const auto none = torch::full({10}, -1, torch::kLong);
    EXPECT_EQ(F::flexmatch_thresholds(none, F::FlexMatchThresholdsOptions(o).warmup(warmup))
                  .thresholds.abs().sum().item<double>(), 0.0);
  }
}

TEST(FlexMatch, ModuleMasksWithOldThresholdsThenUpdatesLikeUSB) {
  const auto o = F::FlexMatchThresholdsOptions(50, 3).threshold(0.8);
  L::FlexMatchThresholds module(o);
  std::vector<int64_t> memory(50, -1);
  for (uint64_t step = 0; step < 12; ++step) {
    auto gen = at::detail::createCPUGenerator(100 + step);
    const auto logits = torch::randn({10, 3}, gen, torch::kFloat64) * 3;
    const auto indices = torch::randperm(50, gen, torch::kLong).narrow(0, 0, 10);
    const auto pseudo = F::hard_pseudo_labels(logits, module->thresholds);
    const auto want = thresholds_naive(memory, o);  // from before this batch
    for (int64_t i = 0; i < 10; ++i) {
      const int64_t y = pseudo.labels[i].item<int64_t>();
      const double conf = pseudo.confidence[i].item<double>();
      EXPECT_EQ(pseudo.mask[i].item<double>(), conf >= want[y] ? 1.0 : 0.0) << step << " " << i;
      if (conf >= 0.8) memory[indices[i].item<int64_t>()] = y;
    }
    module->update(pseudo.confidence, pseudo.labels, indices);
    EXPECT_EQ(to_vector(module->selected), memory) << "step " << step;
  }
  const auto want = thresholds_naive(memory, o);
  for (int64_t c = 0; c < 3; ++c) EXPECT_NEAR(module->thresholds[c].item<double>(), want[c], 1e-6);
  EXPECT_GT(module->thresholds.sum().item<double>(), 0.0);
}

TEST(FlexMatch, MemoryAndThresholdsAreCheckpointedBuffers) {
  const auto o = F::FlexMatchThresholdsOptions(8, 2);
  L::FlexMatchThresholds trained(o);
  trained->update(torch::tensor({0.99, 0.5, 0.97}, torch::kFloat64), torch::tensor({1, 0, 0}),
                  torch::tensor({2, 3, 7}));
  EXPECT_EQ(to_vector(trained->selected), std::vector<int64_t>({-1, -1, 1, -1, -1, -1, -1, 0}));
  const auto names = trained->named_buffers().keys();
  EXPECT_EQ(names, std::vector<std::string>({"selected", "beta", "thresholds"}));
  std::stringstream checkpoint;
  torch::save(trained, checkpoint);
  L::FlexMatchThresholds resumed(o);
  torch::load(resumed, checkpoint);
  EXPECT_TRUE(torch::equal(resumed->selected, trained->selected));
  EXPECT_TRUE(torch::equal(resumed->thresholds, trained->thresholds));
  EXPECT_GT(resumed->thresholds.sum().item<double>(), 0.0);
  const auto copy = std::dynamic_pointer_cast<L::FlexMatchThresholdsImpl>(trained->clone());
  EXPECT_TRUE(torch::equal(copy->beta, trained->beta));
}

TEST(FlexMatch, RejectsBadArguments) {
  T::expect_error_mentions([] { L::FlexMatchThresholds(F::FlexMatchThresholdsOptions(8, 1)); },
                           {"flexmatch", "num_classes", "1"});
  T::expect_error_mentions(
      [] { L::FlexMatchThresholds(F::FlexMatchThresholdsOptions(8, 2).threshold(0)); },
      {"flexmatch", "threshold", "0"});
  L::FlexMatchThresholds module(F::FlexMatchThresholdsOptions(8, 2));
  const auto conf = torch::tensor({0.99, 0.99});
  T::expect_error_mentions([&] { module->update(conf, torch::tensor({0, 1}), torch::tensor({0, 8})); },
                           {"indices", "[0, 8)", "8"});
  T::expect_error_mentions([&] { module->update(conf, torch::tensor({0, 2}), torch::tensor({0, 1})); },
                           {"labels", "[0, 2)"});
  T::expect_error_mentions([&] { module->update(conf, torch::tensor({0}), torch::tensor({0, 1})); },
                           {"labels", "[2]", "[1]"});
  T::expect_error_mentions([] { F::parse_flexmatch_mapping("concave", "method.mapping"); },
                           {"method.mapping", "'concave'"});
}
