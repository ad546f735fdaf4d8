// The text encoder: padding changes nothing a real token sees; the two poolings against their
// definitions; dropout makes two training passes differ and is off in evaluation; position ids
// and the embedding hook reach the output; the refusals.
#include <gtest/gtest.h>

#include "selfsup/nets/text_encoder.h"
#include "support/error_of.h"

using namespace selfsup;

namespace {

nets::TextEncoder small(const std::string& pool = "mean", double dropout = 0.1) {
  torch::manual_seed(0);
  return nets::TextEncoder(
      nets::TextEncoderOptions(50).dim(16).depth(2).heads(2).max_length(12).dropout(dropout).pool(pool));
}

}  // namespace

TEST(TextEncoder, PaddingChangesNothing) {
  auto enc = small();
  enc->eval();
  const auto alone_ids = torch::tensor({{2, 7, 9, 3}}, torch::kLong);
  const auto alone_mask = torch::ones({1, 4}, torch::kBool);
  const auto ids = torch::tensor({{2, 7, 9, 3, 0, 0}, {2, 5, 6, 8, 11, 3}}, torch::kLong);
  const auto mask = ids.ne(0);
  const auto a = enc->forward(alone_ids, alone_mask), b = enc->forward(ids, mask);
  EXPECT_TRUE(torch::allclose(a[0], b[0], 1e-5, 1e-6));
  const auto ta = enc->forward_tokens(alone_ids, alone_mask), tb = enc->forward_tokens(ids, mask);
  EXPECT_TRUE(torch::allclose(ta[0], tb[0].slice(0, 0, 4), 1e-5, 1e-6));
}

TEST(TextEncoder, PoolingsFollowTheirDefinitions) {
  for (const std::string pool : {"mean", "cls"}) {
    auto enc = small(pool);
    enc->eval();
    const auto ids = torch::tensor({{2, 7, 9, 3, 0}, {2, 5, 3, 0, 0}}, torch::kLong);
    const auto mask = ids.ne(0);
    const auto tokens = enc->forward_tokens(ids, mask);
    const auto pooled = enc->forward(ids, mask);
    if (pool == "cls") {
      EXPECT_TRUE(torch::allclose(pooled, tokens.select(1, 0)));
    } else {
      EXPECT_TRUE(torch::allclose(pooled[0], tokens[0].slice(0, 0, 4).mean(0), 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(pooled[1], tokens[1].slice(0, 0, 3).mean(0), 1e-5, 1e-6));
    }
  }
}

TEST(TextEncoder, DropoutDiffersBetweenPassesInTrainingOnly) {
  auto enc = small("mean", 0.1);
  const auto ids = torch::tensor({{2, 7, 9, 13, 21, 3}}, torch::kLong);
  const auto mask = ids.ne(0);
  enc->train();
  EXPECT_FALSE(torch::allclose(enc->forward(ids, mask), enc->forward(ids, mask)));
  enc->eval();
  EXPECT_TRUE(torch::equal(enc->forward(ids, mask), enc->forward(ids, mask)));
  auto none = small("mean", 0.0);
  none->train();
  EXPECT_TRUE(torch::equal(none->forward(ids, mask), none->forward(ids, mask)));
}

TEST(TextEncoder, PositionIdsAndTheHookReachTheOutput) {
  auto enc = small();
  enc->eval();
  const auto ids = torch::tensor({{2, 7, 9, 13, 3}}, torch::kLong);
  const auto mask = ids.ne(0);
  const auto base = enc->forward_tokens(ids, mask);
  EXPECT_TRUE(torch::allclose(enc->forward_tokens(ids, mask, torch::arange(5).unsqueeze(0)), base));
  EXPECT_FALSE(torch::allclose(enc->forward_tokens(ids, mask, torch::tensor({{0, 3, 1, 2, 4}}, torch::kLong)), base));
  EXPECT_TRUE(torch::allclose(enc->forward_tokens(ids, mask, {}, [](const torch::Tensor& e) { return e; }), base));
  EXPECT_FALSE(torch::allclose(enc->forward_tokens(ids, mask, {}, [](const torch::Tensor& e) { return e * 0; }), base));
}

TEST(TextEncoder, Refusals) {
  auto enc = small();
  const auto mask = torch::ones({1, 3}, torch::kBool);
  EXPECT_NE(selfsup::testing::error_of([&] { enc->forward(torch::zeros({1, 3}), mask); }).find("ids must be int64"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] { enc->forward(torch::full({1, 3}, 50, torch::kLong), mask); })
                .find("token ids must be in [0, 50)"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([&] {
              enc->forward(torch::zeros({1, 13}, torch::kLong), torch::ones({1, 13}, torch::kBool));
            }).find("max_length is 12"),
            std::string::npos);
  EXPECT_NE(selfsup::testing::error_of([] { nets::TextEncoder(nets::TextEncoderOptions(50).pool("max")); })
                .find("pool must be mean or cls"),
            std::string::npos);
}
