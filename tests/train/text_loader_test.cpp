// The text loader: each epoch visits every row once in a seeded order, the batch of a step is the
// same whenever it is asked for, lists stay aligned row by row, padding follows each batch's
// longest row, and two ranks split the global batch.
#include <gtest/gtest.h>

#include <set>

#include "selfsup/train/text_loader.h"
#include "support/error_of.h"

using namespace selfsup;

namespace {
/// Row r: <s>, r + 10 repeated (r % 4) + 1 times, </s>.
std::vector<std::vector<int64_t>> rows(int64_t n, int64_t offset = 0) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<int64_t> s{2};
    for (int64_t k = 0; k <= r % 4; ++k) s.push_back(r + 10 + offset);
    s.push_back(3);
    out.push_back(s);
  }
  return out;
}
}  // namespace

TEST(TextLoader, EpochsVisitEveryRowAndStepsRepeat) {
  train::TextLoader loader({rows(20)}, train::LoaderOptions().batch_size(4).seed(5), torch::kCPU);
  ASSERT_EQ(loader.steps_per_epoch(), 5);
  std::set<int64_t> seen;
  for (int64_t s = 0; s < 5; ++s) {
    const auto b = loader.get(s);
    ASSERT_EQ(b.token_ids.size(), 1u);
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t r = b.indices[i].item<int64_t>();
      seen.insert(r);
      const int64_t len = r % 4 + 3;
      EXPECT_EQ(b.token_masks[0][i].sum().item<int64_t>(), len);
      EXPECT_EQ(b.token_ids[0][i][1].item<int64_t>(), r + 10);
      EXPECT_EQ(b.token_ids[0].size(1), b.token_masks[0].sum(1).max().item<int64_t>());
    }
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_TRUE(loader.get(3).token_ids[0].equal(loader.get(3).token_ids[0]));
  EXPECT_FALSE(loader.get(0).indices.equal(loader.get(5).indices)) << "epoch 1 reuses epoch 0's order";
}

TEST(TextLoader, ListsStayAlignedAndRanksSplitTheBatch) {
  std::vector<std::vector<std::vector<int64_t>>> three{rows(12), rows(12, 100), rows(12, 200)};
  train::TextLoader whole(three, train::LoaderOptions().batch_size(6).seed(1), torch::kCPU);
  const auto b = whole.get(1);
  ASSERT_EQ(b.token_ids.size(), 3u);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(b.token_ids[1][i][1].item<int64_t>(), b.token_ids[0][i][1].item<int64_t>() + 100);
    EXPECT_EQ(b.token_ids[2][i][1].item<int64_t>(), b.token_ids[0][i][1].item<int64_t>() + 200);
  }
  train::TextLoader r0(three, train::LoaderOptions().batch_size(6).seed(1).rank(0).world_size(2), torch::kCPU);
  train::TextLoader r1(three, train::LoaderOptions().batch_size(6).seed(1).rank(1).world_size(2), torch::kCPU);
  EXPECT_TRUE(torch::cat({r0.get(1).indices, r1.get(1).indices}).equal(b.indices));
  EXPECT_NE(selfsup::testing::error_of([] {
              train::TextLoader l({rows(3)}, train::LoaderOptions().batch_size(4), torch::kCPU);
            }).find("train.batch_size 4 must be in [1, 3]"),
            std::string::npos);
}
