// Normalisation and the view loader: batches are a pure function of (seed, step).
#include <gtest/gtest.h>

#include "selfsup/core/runtime.h"
#include "selfsup/train/loader.h"

using namespace selfsup;

namespace {

data::Dataset synthetic(int64_t n, int64_t channels = 1) {
  auto gen = make_generator(11);
  data::Dataset d;
  d.images = torch::randint(0, 256, {n, channels, 16, 16}, gen, torch::kUInt8);
  d.labels = torch::arange(n, torch::kLong).remainder(4);
  d.classes = {"a", "b", "c", "d"};
  d.name = "synthetic";
  return d;
}

augment::ViewSet two_views() {
  auto cfg = Config::parse("augment: {pipeline: simclr}");
  return train::views_from_config(cfg, 1, 16, 2);
}

train::Normalization unit_norm() { return {{0.5}, {0.25}}; }

TEST(Normalization, MeasuredOnTheData) {
  auto d = synthetic(64, 3);
  auto n = train::Normalization::from_config(Config(), d.images);
  ASSERT_EQ(n.mean.size(), 3u);
  ASSERT_EQ(n.std.size(), 3u);
  auto x = d.images.to(torch::kFloat64) / 255.0;
  for (int64_t c = 0; c < 3; ++c) {
    auto xc = x.select(1, c);
    EXPECT_NEAR(n.mean[c], xc.mean().item<double>(), 1e-5) << c;
    EXPECT_NEAR(n.std[c], xc.std().item<double>(), 1e-5) << c;
  }
  auto y = n.apply(x.to(torch::kFloat32));
  EXPECT_NEAR(y.select(1, 1).mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(y.select(1, 1).std().item<double>(), 1.0, 1e-4);
}

TEST(Normalization, FromConfigAndValidated) {
  auto d = synthetic(8, 1);
  auto n = train::Normalization::from_config(Config::parse("data: {mean: [0.5], std: [0.25]}"), d.images);
  EXPECT_EQ(n.mean, std::vector<double>{0.5});
  EXPECT_EQ(n.std, std::vector<double>{0.25});
  auto x = torch::full({2, 1, 3, 3}, 0.75);
  EXPECT_TRUE(torch::allclose(n.apply(x), torch::full({2, 1, 3, 3}, 1.0)));

  try {
    train::Normalization::from_config(Config::parse("data: {mean: [0.5, 0.5], std: [0.2, 0.2]}"), d.images);
    FAIL() << "two values for one channel were accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(e.msg().find("one value per channel"), std::string::npos) << e.msg();
  }
  EXPECT_THROW(train::Normalization::from_config(Config::parse("data: {mean: [0.5]}"), d.images), c10::Error);
  EXPECT_THROW(train::Normalization::from_config(Config::parse("data: {mean: [0.5], std: [0]}"), d.images),
               c10::Error);
}

void expect_same_batch(const methods::Batch& a, const methods::Batch& b) {
  ASSERT_EQ(a.views.size(), b.views.size());
  for (size_t v = 0; v < a.views.size(); ++v) EXPECT_TRUE(torch::equal(a.views[v], b.views[v])) << "view " << v;
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
}

TEST(ViewLoader, BatchesArePureFunctionsOfSeedAndStep) {
  auto d = synthetic(100);
  auto opts = train::LoaderOptions().batch_size(16).seed(42);
  train::ViewLoader pre(d, two_views(), unit_norm(), opts.prefetch(true), torch::kCPU);
  train::ViewLoader direct(d, two_views(), unit_norm(), train::LoaderOptions(opts).prefetch(false), torch::kCPU);
  train::ViewLoader other_seed(d, two_views(), unit_norm(), train::LoaderOptions(opts).seed(43).prefetch(false),
                               torch::kCPU);

  // The same step twice, out of order, from prefetching and direct loaders: identical tensors.
  auto b7 = direct.batch_at(7);
  expect_same_batch(b7, direct.batch_at(7));
  for (int64_t s = 0; s < 9; ++s) {
    auto a = pre.get(s);  // s >= 1 comes from the background thread
    expect_same_batch(a, direct.get(s));
    if (s == 7) expect_same_batch(a, b7);
  }
  // A jump (as after a resume) is served correctly even with a stale prefetch pending.
  expect_same_batch(pre.get(3), direct.batch_at(3));

  ASSERT_EQ(b7.views.size(), 2u);
  EXPECT_EQ(b7.views[0].sizes(), (std::vector<int64_t>{16, 1, 16, 16}));
  EXPECT_EQ(b7.views[0].scalar_type(), torch::kFloat32);
  EXPECT_FALSE(torch::equal(b7.views[0], b7.views[1])) << "the two views are not independently augmented";
  EXPECT_FALSE(torch::equal(b7.views[0], direct.batch_at(8).views[0]));
  auto o7 = other_seed.batch_at(7);
  EXPECT_FALSE(torch::equal(b7.indices, o7.indices) && torch::equal(b7.views[0], o7.views[0]));
  // Labels travel with their images.
  EXPECT_TRUE(torch::equal(b7.labels, d.labels.index_select(0, b7.indices)));
}

TEST(ViewLoader, EveryIndexOncePerEpoch) {
  auto d = synthetic(100);
  train::ViewLoader loader(d, two_views(), unit_norm(),
                           train::LoaderOptions().batch_size(16).drop_last(false).prefetch(false).seed(1),
                           torch::kCPU);
  ASSERT_EQ(loader.steps_per_epoch(), 7);
  std::vector<torch::Tensor> epochs[2];
  for (int64_t s = 0; s < 14; ++s) {
    auto b = loader.batch_at(s);
    EXPECT_EQ(b.indices.size(0), s % 7 == 6 ? 4 : 16) << s;
    EXPECT_EQ(b.views[0].size(0), b.indices.size(0));
    epochs[s / 7].push_back(b.indices);
  }
  auto e0 = torch::cat(epochs[0]), e1 = torch::cat(epochs[1]);
  EXPECT_TRUE(torch::equal(std::get<0>(e0.sort()), torch::arange(100, torch::kLong)));
  EXPECT_TRUE(torch::equal(std::get<0>(e1.sort()), torch::arange(100, torch::kLong)));
  EXPECT_FALSE(torch::equal(e0, e1)) << "every epoch has the same order";
  EXPECT_FALSE(torch::equal(e0, torch::arange(100, torch::kLong))) << "not shuffled";
}

TEST(ViewLoader, DropLast) {
  auto d = synthetic(100);
  train::ViewLoader loader(d, two_views(), unit_norm(), train::LoaderOptions().batch_size(16).prefetch(false).seed(1),
                           torch::kCPU);
  ASSERT_EQ(loader.steps_per_epoch(), 6);
  std::vector<torch::Tensor> seen;
  for (int64_t s = 0; s < 6; ++s) {
    auto b = loader.batch_at(s);
    EXPECT_EQ(b.indices.size(0), 16);
    seen.push_back(b.indices);
  }
  EXPECT_EQ(std::get<0>(at::_unique(torch::cat(seen))).numel(), 96);
  // Step 6 starts the next epoch with a fresh full batch.
  EXPECT_EQ(loader.batch_at(6).indices.size(0), 16);

  EXPECT_THROW(train::ViewLoader(d, two_views(), unit_norm(), train::LoaderOptions().batch_size(101), torch::kCPU),
               c10::Error);
  EXPECT_THROW(train::ViewLoader(d, two_views(), unit_norm(), train::LoaderOptions().batch_size(0), torch::kCPU),
               c10::Error);
  // Without drop_last a batch larger than the data set is one short epoch.
  train::ViewLoader whole(d, two_views(), unit_norm(), train::LoaderOptions().batch_size(101).drop_last(false),
                          torch::kCPU);
  EXPECT_EQ(whole.steps_per_epoch(), 1);
}

}  // namespace
