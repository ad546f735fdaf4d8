// The protocols' options, the scored split and the spread of a few draws.
#include <gtest/gtest.h>

#include "selfsup/data/dataset.h"
#include "selfsup/eval/protocols.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;

TEST(EvalOptions, ReadsConfigAndRejectsUnknownProtocols) {
  auto o = eval::EvalOptions::from_config(Config::parse("eval: {protocols: [knn], knn_k: 7, knn_temperature: 0.5}"));
  EXPECT_EQ(o.protocols(), std::vector<std::string>{"knn"});
  EXPECT_EQ(o.knn_k(), 7);
  EXPECT_DOUBLE_EQ(o.knn_temperature(), 0.5);
  auto msg = error_of([] { eval::EvalOptions::from_config(Config::parse("eval: {protocols: [knn, finetunee]}")); });
  EXPECT_NE(msg.find("'finetunee'"), std::string::npos) << msg;
  msg = error_of([] { eval::EvalOptions::from_config(Config::parse("eval: {split: train}")); });
  EXPECT_NE(msg.find("eval.split must be test or val, got 'train'"), std::string::npos) << msg;
  msg = error_of([] { eval::EvalOptions().propagate_draws(0).check(); });
  EXPECT_NE(msg.find("eval.propagate_draws must be positive, got 0"), std::string::npos) << msg;
}

TEST(Spread, MeanAndSampleStandardDeviation) {
  const auto s = eval::spread({0.7, 0.8, 0.9});
  EXPECT_NEAR(s.mean, 0.8, 1e-12);
  EXPECT_NEAR(s.std, 0.1, 1e-12);  // sqrt((0.01 + 0 + 0.01) / 2)
  EXPECT_EQ(eval::spread({0.5}).std, 0.0);
  EXPECT_EQ(eval::spread({}).mean, 0.0);
}

// split val: the protocols fit on the training set minus a stratified validation split and score
// that split, never the test set; split test scores the real test set.
TEST(ScoredSplit, ValidationIsCarvedFromTheTrainingSetOnly) {
  const auto data = data::load_dataset(Config::parse("data: {name: fashion-mnist, limit: 400}"));
  const auto test = eval::scored_split(data, eval::EvalOptions(), 1);
  EXPECT_EQ(test.train.size(), data.train.size());
  EXPECT_TRUE(torch::equal(test.test.images, data.test.images));
  const auto val = eval::scored_split(data, eval::EvalOptions().split("val").val_per_class(5), 1);
  EXPECT_EQ(val.test.size(), 50);
  EXPECT_EQ(val.train.size() + val.test.size(), data.train.size());
  EXPECT_TRUE(torch::equal(torch::bincount(val.test.labels, {}, 10), torch::full({10}, 5, torch::kLong)));
  // Every scored image is a training image, and none of them is also fitted on.
  // An image's key: its pixels against fixed integer weights, summed exactly in int64.
  const auto key = [](const torch::Tensor& images) {
    auto x = images.flatten(1).to(torch::kLong);
    return (x * (torch::arange(x.size(1), torch::kLong) * 7919 + 1).remainder(1000003)).sum(1);
  };
  const auto fitted = key(val.train.images), scored = key(val.test.images), all = key(data.train.images);
  EXPECT_TRUE(torch::isin(scored, all).all().item<bool>());
  EXPECT_EQ(torch::isin(scored, fitted).sum().item<int64_t>(), 0);
  // The same seed draws the same split, another seed another one.
  EXPECT_TRUE(torch::equal(eval::scored_split(data, eval::EvalOptions().split("val").val_per_class(5), 1).test.labels,
                           val.test.labels) &&
              torch::equal(eval::scored_split(data, eval::EvalOptions().split("val").val_per_class(5), 1).test.images,
                           val.test.images));
  EXPECT_FALSE(torch::equal(eval::scored_split(data, eval::EvalOptions().split("val").val_per_class(5), 2).test.images,
                            val.test.images));
}
