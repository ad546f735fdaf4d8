// Seeded splits (labeled subset, validation, PU) and Dataset::subset/head.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/splits.h"
#include "selfsup/core/runtime.h"

namespace selfsup::data {
namespace {

using namespace selfsup::data::testing;

// Unbalanced labels in shuffled order: class c has 20 + 7c examples (c = 0..4), 170 in all.
torch::Tensor make_labels() {
  std::vector<int64_t> v;
  for (int64_t c = 0; c < 5; ++c) v.insert(v.end(), 20 + 7 * c, c);
  auto t = torch::tensor(v, torch::kLong);
  auto gen = selfsup::make_generator(123);
  return t.index_select(0, torch::randperm(t.numel(), gen, torch::kLong));
}

int64_t count_of(const torch::Tensor& labels, int64_t c) { return (labels == c).sum().item<int64_t>(); }

// a and b are disjoint and together hold every index 0..n-1 exactly once; both sorted.
void expect_partition(const torch::Tensor& a, const torch::Tensor& b, int64_t n) {
  EXPECT_EQ(a.scalar_type(), torch::kLong);
  EXPECT_EQ(b.scalar_type(), torch::kLong);
  const auto all = std::get<0>(torch::cat({a, b}).sort());
  EXPECT_TRUE(torch::equal(all, torch::arange(n, torch::kLong)));
  EXPECT_TRUE(torch::equal(std::get<0>(a.sort()), a));
  EXPECT_TRUE(torch::equal(std::get<0>(b.sort()), b));
}

TEST(LabeledSubset, ExactPerClassCountsDisjointAndCovering) {
  const auto labels = make_labels();
  const auto s = labeled_subset(labels, 4, 1);
  ASSERT_EQ(s.labeled.numel(), 20);
  const auto picked = labels.index_select(0, s.labeled);
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(count_of(picked, c), 4) << "class " << c;
  expect_partition(s.labeled, s.unlabeled, labels.numel());
}

TEST(LabeledSubset, SeedDecidesTheSplit) {
  const auto labels = make_labels();
  EXPECT_TRUE(torch::equal(labeled_subset(labels, 4, 7).labeled, labeled_subset(labels, 4, 7).labeled));
  EXPECT_FALSE(torch::equal(labeled_subset(labels, 4, 7).labeled, labeled_subset(labels, 4, 8).labeled));
}

TEST(LabeledSubset, TooFewExamplesNamesTheClass) {
  const auto labels = make_labels();
  expect_message(error_of([&] { labeled_subset(labels, 21, 0); }), {"class 0", "only 20", "per_class = 21"});
  expect_message(error_of([&] { labeled_subset(labels, -1, 0); }), {"per_class", "-1"});
  expect_message(error_of([&] { labeled_subset(labels.to(torch::kFloat), 1, 0); }), {"integer"});
  expect_message(error_of([&] { labeled_subset(labels.view({10, 17}), 1, 0); }), {"1-D"});
  // Every example of a class may be labeled.
  EXPECT_EQ(labeled_subset(labels, 20, 0).labeled.numel(), 100);
}

TEST(ValidationSplit, ExactPerClassCountsAndReproducible) {
  const auto labels = make_labels();
  const auto s = validation_split(labels, 3, 5);
  const auto val = labels.index_select(0, s.val);
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(count_of(val, c), 3);
  EXPECT_EQ(s.train.numel(), labels.numel() - 15);
  expect_partition(s.train, s.val, labels.numel());
  EXPECT_TRUE(torch::equal(validation_split(labels, 3, 5).val, s.val));
  EXPECT_FALSE(torch::equal(validation_split(labels, 3, 6).val, s.val));
  expect_message(error_of([&] { validation_split(labels, 50, 0); }), {"class 0", "val_per_class = 50"});
}

TEST(BinaryLabels, MarksPositiveClasses) {
  const auto labels = torch::tensor({0, 1, 2, 3, 1, 4}, torch::kLong);
  EXPECT_TRUE(torch::equal(binary_labels(labels, {1, 3}), torch::tensor({0, 1, 0, 1, 1, 0}, torch::kLong)));
  expect_message(error_of([&] { binary_labels(labels, {}); }), {"positive_classes"});
  expect_message(error_of([&] { binary_labels(labels, {-2}); }), {"-2"});
}

TEST(PUSplit, LabeledArePositivesAndPriorIsTheUnlabeledShare) {
  const auto labels = make_labels();
  const std::vector<int64_t> pos = {1, 3};
  const int64_t n = labels.numel();
  const int64_t n_pos = count_of(labels, 1) + count_of(labels, 3);  // 27 + 41 = 68
  ASSERT_EQ(n_pos, 68);
  const auto s = pu_split(labels, pos, 30, 11);
  EXPECT_EQ(s.labeled.numel(), 30);
  EXPECT_TRUE(binary_labels(labels.index_select(0, s.labeled), pos).all().item<bool>());
  expect_partition(s.labeled, s.unlabeled, n);
  EXPECT_EQ(s.targets.sizes(), torch::IntArrayRef({n}));
  EXPECT_TRUE(torch::equal(s.targets.index_select(0, s.labeled), torch::ones({30}, torch::kLong)));
  EXPECT_EQ(s.targets.sum().item<int64_t>(), 30);
  // Positives left among the unlabeled, measured from the split itself.
  const auto unl = binary_labels(labels.index_select(0, s.unlabeled), pos);
  EXPECT_DOUBLE_EQ(s.prior, unl.to(torch::kDouble).mean().item<double>());
  EXPECT_DOUBLE_EQ(s.prior, 38.0 / 140.0);

  EXPECT_TRUE(torch::equal(pu_split(labels, pos, 30, 11).labeled, s.labeled));
  EXPECT_FALSE(torch::equal(pu_split(labels, pos, 30, 12).labeled, s.labeled));
}

TEST(PUSplit, InvalidArgumentsAreNamed) {
  const auto labels = make_labels();
  expect_message(error_of([&] { pu_split(labels, {1, 3}, 69, 0); }), {"n_labeled = 69", "only 68"});
  expect_message(error_of([&] { pu_split(labels, {1, 9}, 5, 0); }), {"class 9", "does not occur"});
  expect_message(error_of([&] { pu_split(labels, {1}, 0, 0); }), {"n_labeled", "0"});
  expect_message(error_of([&] { pu_split(labels, {}, 5, 0); }), {"positive_classes"});
}

Dataset tiny_dataset() {
  Dataset d;
  d.images = torch::arange(6 * 2 * 2 * 2, torch::kLong).to(torch::kUInt8).view({6, 2, 2, 2});
  d.labels = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong);
  d.classes = {"a", "b", "c"};
  d.name = "tiny";
  return d;
}

TEST(Dataset, SubsetAndHead) {
  const auto d = tiny_dataset();
  const auto s = d.subset(torch::tensor({4, 1}, torch::kLong));
  EXPECT_EQ(s.size(), 2);
  EXPECT_TRUE(torch::equal(s.images[0], d.images[4]));
  EXPECT_TRUE(torch::equal(s.labels, torch::tensor({1, 1}, torch::kLong)));
  EXPECT_EQ(s.classes, d.classes);
  EXPECT_EQ(s.name, "tiny");
  expect_message(error_of([&] { d.subset(torch::tensor({0, 6}, torch::kLong)); }), {"[0, 6]", "6 examples"});

  EXPECT_EQ(d.head(4).size(), 4);
  EXPECT_TRUE(torch::equal(d.head(4).labels, d.labels.narrow(0, 0, 4)));
  EXPECT_EQ(d.head(100).size(), 6);
  EXPECT_TRUE(torch::equal(d.class_counts(), torch::tensor({2, 2, 2}, torch::kLong)));
  EXPECT_EQ(d.channels(), 2);
  EXPECT_EQ(d.height(), 2);
  EXPECT_EQ(d.width(), 2);
  EXPECT_NO_THROW(d.validate());
  auto bad = d;
  bad.labels = torch::tensor({0, 1, 2, 0, 1, 3}, torch::kLong);
  expect_message(error_of([&] { bad.validate(); }), {"tiny", "3 classes"});
}

}  // namespace
}  // namespace selfsup::data
