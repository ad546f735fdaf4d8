// ConSERT's augmentations: the shuffle permutes exactly the inner tokens and keeps <s>, </s> and
// padding; each cutoff zeroes exactly the chosen tokens / features and nothing else, chooses the
// stated count, never padding; the same generator seed gives the same choice.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "selfsup/core/runtime.h"
#include "selfsup/augment/text.h"
#include "support/error_of.h"

using namespace selfsup;

namespace {
torch::Tensor prefix_mask(const std::vector<int64_t>& lengths, int64_t l) {
  auto m = torch::zeros({static_cast<int64_t>(lengths.size()), l}, torch::kBool);
  for (size_t i = 0; i < lengths.size(); ++i) m[static_cast<int64_t>(i)].slice(0, 0, lengths[i]).fill_(true);
  return m;
}
}  // namespace

TEST(TokenShuffle, PermutesTheInnerTokensOnly) {
  const std::vector<int64_t> len{8, 5, 3, 2};
  const auto mask = prefix_mask(len, 8);
  auto gen = make_generator(1);
  const auto pos = augment::text::shuffled_positions(mask, gen);
  for (size_t i = 0; i < len.size(); ++i) {
    const auto row = pos[static_cast<int64_t>(i)];
    EXPECT_EQ(row[0].item<int64_t>(), 0);
    std::set<int64_t> inner;
    for (int64_t j = 1; j < len[i] - 1; ++j) inner.insert(row[j].item<int64_t>());
    for (int64_t j = 1; j < len[i] - 1; ++j) EXPECT_TRUE(inner.count(j)) << "row " << i << " lost position " << j;
    for (int64_t j = std::max<int64_t>(len[i] - 1, 1); j < 8; ++j) EXPECT_EQ(row[j].item<int64_t>(), j);
  }
  // Over many draws the inner tokens of the long row do move.
  bool moved = false;
  for (int t = 0; t < 5 && !moved; ++t) moved = !augment::text::shuffled_positions(mask, gen)[0].equal(torch::arange(8));
  EXPECT_TRUE(moved);
  auto a = make_generator(9), b = make_generator(9);
  EXPECT_TRUE(augment::text::shuffled_positions(mask, a).equal(augment::text::shuffled_positions(mask, b)));
}

TEST(TokenCutoff, ZeroesExactlyTheChosenTokens) {
  const std::vector<int64_t> len{10, 4, 1};
  const auto mask = prefix_mask(len, 10);
  auto gen = make_generator(2);
  const auto cut = augment::text::token_cutoff_mask(mask, 0.2, gen);
  EXPECT_EQ(cut[0].sum().item<int64_t>(), 2);  // round(0.2 * 10)
  EXPECT_EQ(cut[1].sum().item<int64_t>(), 1);  // at least one
  EXPECT_EQ(cut[2].sum().item<int64_t>(), 0);  // never the only token
  EXPECT_FALSE(cut.logical_and(mask.logical_not()).any().item<bool>()) << "padding chosen";
  const auto e = torch::randn({3, 10, 6}) + 5;  // no zero of its own
  const auto out = augment::text::cut_tokens(e, cut);
  EXPECT_TRUE(out.eq(0).all(2).equal(cut));
  EXPECT_TRUE(out.masked_select(cut.logical_not().unsqueeze(2)).equal(e.masked_select(cut.logical_not().unsqueeze(2))));
}

TEST(FeatureCutoff, ZeroesExactlyTheChosenFeatures) {
  auto gen = make_generator(3);
  const auto cut = augment::text::feature_cutoff_mask(4, 20, 0.1, gen);
  EXPECT_TRUE(cut.sum(1).eq(2).all().item<bool>());
  const auto e = torch::randn({4, 7, 20}) + 5;
  const auto out = augment::text::cut_features(e, cut);
  EXPECT_TRUE(out.eq(0).all(1).equal(cut));
  EXPECT_TRUE(out.masked_select(cut.logical_not().unsqueeze(1)).equal(e.masked_select(cut.logical_not().unsqueeze(1))));
}

TEST(ConsertAugment, Refusals) {
  auto gen = make_generator(0);
  const auto mask = prefix_mask({3}, 4);
  EXPECT_NE(selfsup::testing::error_of([&] { augment::text::token_cutoff_mask(mask, 1.5, gen); }).find("rate must be in [0, 1), got 1.5"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { augment::text::shuffled_positions(mask.to(torch::kLong), gen); }).find("mask must be bool"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { augment::text::cut_tokens(torch::zeros({1, 4, 2}), torch::zeros({1, 3}, torch::kBool)); })
                .find("cut_tokens"),
            std::string::npos);
}
