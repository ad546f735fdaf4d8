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

// semi_split: the validation images come first and reach neither stream; the labeled ones have
// exactly per_class of each class; the three parts cover the set once; each seed its own draw.
TEST(SemiSplit, ValidationFirstThenExactLabeledCounts) {
  const auto labels = make_labels();
  const auto s = semi_split(labels, 4, 3, 7);
  for (int64_t c = 0; c < 5; ++c) {
    EXPECT_EQ(count_of(labels.index_select(0, s.labeled), c), 4);
    EXPECT_EQ(count_of(labels.index_select(0, s.val), c), 3);
  }
  const auto all = torch::cat({s.labeled, s.unlabeled, s.val});
  EXPECT_EQ(all.numel(), labels.numel());
  EXPECT_TRUE(torch::equal(std::get<0>(all.sort()), torch::arange(labels.numel(), torch::kLong)));
  // The validation images are those validation_split draws from the run's stream, whatever the
  // number of labels asked for.
  EXPECT_TRUE(torch::equal(s.val, semi_split(labels, 2, 3, 7).val));
  EXPECT_TRUE(torch::equal(semi_split(labels, 4, 3, 7).labeled, s.labeled));
  EXPECT_FALSE(torch::equal(semi_split(labels, 4, 3, 8).labeled, s.labeled));
  expect_message(error_of([&] { semi_split(labels, 0, 3, 7); }), {"data.labels_per_class must be positive, got 0"});
  expect_message(error_of([&] { semi_split(labels, 4, -1, 7); }), {"data.val_per_class must be positive, got -1"});
}

// pu_split: the validation images come first; the labeled positives are exactly `labeled`
// positive images of the rest; the unlabeled set is the rest (all of it, or all but the labeled
// positives); the validation split is split the same way.
TEST(PuSplit, LabeledPositivesUnlabeledSetAndValidationSplit) {
  const auto labels = make_labels();  // classes 1 and 3: 27 + 41 = 68 positives
  const std::vector<int64_t> pos{1, 3};
  const auto is_pos = positive_labels(labels, pos);
  EXPECT_EQ(is_pos.sum().item<int64_t>(), 68);
  for (auto mode : {PuUnlabeled::kAll, PuUnlabeled::kRest}) {
    const auto s = pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(12).val_per_class(3).unlabeled(mode).seed(4));
    for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(count_of(labels.index_select(0, s.val), c), 3);
    ASSERT_EQ(s.labeled.numel(), 12);
    EXPECT_EQ(is_pos.index_select(0, s.labeled).sum().item<int64_t>(), 12) << "a labeled image is not positive";
    // No validation image in either training set.
    EXPECT_EQ(torch::isin(s.val, s.labeled).sum().item<int64_t>(), 0);
    EXPECT_EQ(torch::isin(s.val, s.unlabeled).sum().item<int64_t>(), 0);
    // The validation split's labeled positives: the training split's share, 12 * 15 / 155 -> 1.
    EXPECT_EQ(s.val_labeled.numel(), 1);
    EXPECT_EQ(is_pos.index_select(0, s.val_labeled).sum().item<int64_t>(), 1);
    EXPECT_EQ(torch::isin(s.val_labeled, s.val).sum().item<int64_t>(), 1);
    if (mode == PuUnlabeled::kAll) {
      expect_partition(s.unlabeled, s.val, labels.numel());
      EXPECT_TRUE(torch::equal(s.val_unlabeled, s.val));
    } else {
      expect_partition(std::get<0>(torch::cat({s.labeled, s.unlabeled}).sort()), s.val, labels.numel());
      EXPECT_EQ(torch::isin(s.unlabeled, s.labeled).sum().item<int64_t>(), 0);
      EXPECT_EQ(s.val_unlabeled.numel(), 14);
      EXPECT_EQ(torch::isin(s.val_unlabeled, s.val_labeled).sum().item<int64_t>(), 0);
    }
  }
  // Reproducible from the seed; the validation split does not depend on how many are labeled.
  const auto a = pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(12).val_per_class(3).seed(4));
  EXPECT_TRUE(torch::equal(a.labeled, pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(12).val_per_class(3).seed(4)).labeled));
  EXPECT_FALSE(torch::equal(a.labeled, pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(12).val_per_class(3).seed(5)).labeled));
  EXPECT_TRUE(torch::equal(a.val, pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(30).val_per_class(3).seed(4)).val));
  EXPECT_EQ(pu_split(labels, 5, PuSplitOptions().positive_classes(pos).labeled(12).val_per_class(3).val_labeled(5)).val_labeled.numel(), 5);
}

TEST(PuSplit, BadChoicesNameTheirKey) {
  const auto labels = make_labels();
  const auto o = PuSplitOptions().labeled(10).val_per_class(3);
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({})); }),
                 {"data.positive_classes is empty"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({1, 7})); }),
                 {"data.positive_classes: class 7 is not a class of this data set (0..4)"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({1, 1})); }),
                 {"data.positive_classes names class 1 twice"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({0, 1, 2, 3, 4})); }),
                 {"names every class", "needs negatives"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({1, 3}).labeled(63)); }),
                 {"data.labeled_positives = 63 but the training split holds only 62 positive images (classes 1, 3"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({1}).labeled(0)); }),
                 {"data.labeled_positives must be positive, got 0"});
  expect_message(error_of([&] { pu_split(labels, 5, PuSplitOptions(o).positive_classes({1}).val_labeled(4)); }),
                 {"data.val_labeled_positives = 4 but the validation split holds only 3 positive images"});
  expect_message(error_of([&] { pu_unlabeled_from_name("some"); }), {"data.unlabeled must be all", "'some'"});
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
