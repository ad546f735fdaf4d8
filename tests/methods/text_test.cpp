// The sentence-embedding methods: a short run of each on token lists with structure (eight
// topics, each sentence drawn from its topic's pieces) whose loss falls; the same step twice
// gives the same loss; their refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/core/runtime.h"
#include "selfsup/methods/text.h"
#include "selfsup/train/text_loader.h"
#include "selfsup/train/trainer.h"
#include "support/error_of.h"
#include "support/series.h"

using namespace selfsup;

namespace {

constexpr int64_t kVocab = 60, kMask = 4;

methods::DataSpec text_spec() {
  methods::DataSpec spec{0, 0, 0, 0, 0, 7};
  spec.vocab_size = kVocab, spec.mask_token = kMask;
  return spec;
}

Config text_config(const std::string& method) {
  auto cfg = Config::parse("{model: {dim: 32, depth: 1, heads: 2, max_length: 16}, "
                           "train: {lr: 0.003, optimizer: adamw, weight_decay: 0.0}}");
  cfg.set("method.name", YAML::Node(method));
  return cfg;
}

/// <s> + 4-10 pieces of topic t (ids 5 + 6 t .. 5 + 6 t + 5) + </s>.
std::vector<int64_t> sentence(int64_t topic, torch::Generator& gen) {
  const auto n = 4 + torch::randint(7, {1}, gen).item<int64_t>();
  std::vector<int64_t> s{2};
  for (int64_t k = 0; k < n; ++k) s.push_back(5 + 6 * topic + torch::randint(6, {1}, gen).item<int64_t>());
  s.push_back(3);
  return s;
}

/// One list of 128 sentences, or three (sentence, another of its topic, one of the next topic).
std::vector<std::vector<std::vector<int64_t>>> text_data(int64_t lists) {
  auto gen = make_generator(11);
  std::vector<std::vector<std::vector<int64_t>>> out(static_cast<size_t>(lists));
  for (int64_t i = 0; i < 128; ++i) {
    out[0].push_back(sentence(i % 8, gen));
    if (lists == 3) {
      out[1].push_back(sentence(i % 8, gen));
      out[2].push_back(sentence((i + 1) % 8, gen));
    }
  }
  return out;
}

class TextRun : public ::testing::TestWithParam<std::string> {};

TEST_P(TextRun, LossFallsAndAStepIsAFunctionOfTheSeedAndStep) {
  const std::string name = GetParam();
  init_runtime(2);
  seed_everything(3);
  auto cfg = text_config(name);
  auto m = methods::make_text_method(cfg, text_spec());
  train::TextLoader loader(text_data(m->num_texts()), train::LoaderOptions().batch_size(32).seed(5), torch::kCPU);
  // The same step twice, before training: the same loss (dropout and the augmentations draw from
  // the step's generator; dropout from the global one, reseeded).
  const auto b = loader.get(0);
  seed_everything(9);
  const double l1 = m->training_step(b).loss.item<double>();
  seed_everything(9);
  const double l2 = m->training_step(b).loss.item<double>();
  EXPECT_DOUBLE_EQ(l1, l2) << name;

  const int64_t steps = 40;
  train::Trainer trainer(cfg, m, loader, train::TrainerOptions().max_steps(steps).progress(false));
  std::vector<double> losses;
  trainer.on_step([&](int64_t, double loss, const methods::StepOutput&) {
    ASSERT_TRUE(std::isfinite(loss)) << name;
    losses.push_back(loss);
  });
  trainer.fit();
  ASSERT_EQ(losses.size(), static_cast<size_t>(steps));
  const double first = selfsup::testing::window_mean(losses, 0, 6), last = selfsup::testing::window_mean(losses, steps - 6, steps);
  EXPECT_LT(last, 0.9 * first) << name << ": did not fall (first " << first << ", last " << last << ")";
}

INSTANTIATE_TEST_SUITE_P(AllTextMethods, TextRun, ::testing::Values("mlm", "simcse", "simcse_sup", "consert"),
                         [](const auto& info) { return info.param; });

TEST(TextMethods, EvaluationIsDeterministicAndIgnoresTheTrainingHead) {
  init_runtime(2);
  auto m = methods::make_text_method(text_config("simcse"), text_spec());
  const auto b = train::TextLoader(text_data(1), train::LoaderOptions().batch_size(8), torch::kCPU).get(0);
  m->eval();
  const auto e1 = m->embed(b.token_ids[0], b.token_masks[0]), e2 = m->embed(b.token_ids[0], b.token_masks[0]);
  EXPECT_TRUE(e1.equal(e2));
  EXPECT_EQ(e1.sizes(), (std::vector<int64_t>{8, 32}));
}

TEST(TextMethods, Refusals) {
  using selfsup::testing::error_of;
  auto no_vocab = methods::DataSpec{0, 0, 0, 0, 0, 0};
  EXPECT_NE(error_of([&] { methods::make_text_method(text_config("simcse"), no_vocab); }).find("vocabulary size"),
            std::string::npos);
  auto spec = text_spec();
  spec.mask_token = -1;
  EXPECT_NE(error_of([&] { methods::make_text_method(text_config("mlm"), spec); }).find("[MASK]"), std::string::npos);
  auto cfg = text_config("consert");
  cfg.set("method.augment", YAML::Load("[shuffle, crop]"));
  EXPECT_NE(error_of([&] { methods::make_text_method(cfg, text_spec()); }).find("unknown augmentation 'crop'"),
            std::string::npos);
  cfg = text_config("simcse");
  cfg.set("method.temperature", YAML::Node(-0.05));
  EXPECT_NE(error_of([&] { methods::make_text_method(cfg, text_spec()); }).find("method.temperature must be positive"),
            std::string::npos);
  // Supervised SimCSE needs the three lists; a sentence list alone is refused by name.
  auto sup = methods::make_text_method(text_config("simcse_sup"), text_spec());
  const auto one = train::TextLoader(text_data(1), train::LoaderOptions().batch_size(8), torch::kCPU).get(0);
  EXPECT_NE(error_of([&] { sup->training_step(one); }).find("simcse_sup expects 3 sentence lists"), std::string::npos);
  auto image = Config::parse("{method: {name: simclr}, model: {backbone: convnet, channels: [8, 16, 32]}}");
  EXPECT_NE(error_of([&] { methods::make_text_method(image, {1, 28, 10, 0, 0, 0}); }).find("simclr"), std::string::npos);
}

}  // namespace
