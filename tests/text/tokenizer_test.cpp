// The SentencePiece tokenizer: trained on a small corpus it round-trips its sentences, numbers
// the special pieces as promised and knows [MASK]; batches are <s> ... </s>, padded and cut to
// max_length; bad models and impossible vocabularies are refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "selfsup/text/tokenizer.h"
#include "support/error_of.h"

using selfsup::testing::error_of;
namespace text = selfsup::text;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> corpus() {
  const std::vector<std::string> words{"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "park", "bird",
                                       "sang", "in", "tree", "fish", "swam", "river", "big", "small", "red"};
  std::vector<std::string> out;
  for (size_t i = 0; i < 300; ++i) {
    std::string s;
    for (size_t k = 0; k < 4 + i % 5; ++k) s += (k ? " " : "") + words[(i * 7 + k * 13) % words.size()];
    out.push_back(s + ".");
  }
  return out;
}

const std::string& model() {
  static const std::string path = [] {
    const auto p = (fs::temp_directory_path() / "selfsup_tokenizer_test.model").string();
    text::train_tokenizer(corpus(), p, text::TokenizerTrainOptions().vocab_size(40));
    return p;
  }();
  return path;
}

}  // namespace

TEST(Tokenizer, RoundTripsItsCorpusAndNumbersTheSpecialPieces) {
  const text::Tokenizer tok(model());
  EXPECT_EQ(tok.vocab_size(), 40);
  EXPECT_GE(tok.mask_id(), 4);
  for (const auto& s : corpus()) {
    const auto ids = tok.encode(s);
    ASSERT_FALSE(ids.empty());
    for (auto id : ids) EXPECT_GE(id, 4) << "a special id inside '" << s << "'";
    EXPECT_EQ(tok.decode(ids), s);
  }
  EXPECT_EQ(tok.decode(tok.encode("the red fish sang.")), "the red fish sang.");
}

TEST(Tokenizer, BatchesArePaddedAndCut) {
  const text::Tokenizer tok(model());
  const std::vector<std::string> s{"the cat sat on a mat.", "dog."};
  const auto full = tok.encode_batch(s, 512);
  const auto n0 = static_cast<int64_t>(tok.encode(s[0]).size()) + 2, n1 = static_cast<int64_t>(tok.encode(s[1]).size()) + 2;
  ASSERT_EQ(full.ids.sizes(), (std::vector<int64_t>{2, std::max(n0, n1)}));
  EXPECT_EQ(full.mask.sum(1)[0].item<int64_t>(), n0);
  EXPECT_EQ(full.mask.sum(1)[1].item<int64_t>(), n1);
  EXPECT_EQ(full.ids[0][0].item<int64_t>(), text::Tokenizer::kBos);
  EXPECT_EQ(full.ids[0][n0 - 1].item<int64_t>(), text::Tokenizer::kEos);
  EXPECT_TRUE(full.ids[1].slice(0, n1).eq(text::Tokenizer::kPad).all().item<bool>());
  const auto cut = tok.encode_batch(s, 4);
  EXPECT_EQ(cut.ids.size(1), 4);
  EXPECT_EQ(cut.ids[0][3].item<int64_t>(), text::Tokenizer::kEos);
  EXPECT_EQ(cut.ids[0][1].item<int64_t>(), full.ids[0][1].item<int64_t>());
}

TEST(Tokenizer, Refusals) {
  const auto junk = (fs::temp_directory_path() / "selfsup_tokenizer_junk.model").string();
  std::ofstream(junk) << "not a model";
  EXPECT_NE(error_of([&] { text::Tokenizer t(junk); }).find("is not a SentencePiece model"), std::string::npos);
  EXPECT_NE(error_of([] { text::Tokenizer t("/nonexistent.model"); }).find("cannot read /nonexistent.model"),
            std::string::npos);
  const auto big = error_of([] {
    text::train_tokenizer(corpus(), (fs::temp_directory_path() / "selfsup_tok_big.model").string(),
                          text::TokenizerTrainOptions().vocab_size(50000));
  });
  EXPECT_NE(big.find("vocab_size 50000"), std::string::npos) << big;
  EXPECT_NE(big.find("Vocabulary size too high"), std::string::npos) << big;  // SentencePiece's own reason
  EXPECT_NE(error_of([] {
              text::train_tokenizer(corpus(), "/tmp/x.model", text::TokenizerTrainOptions().model_type("word2vec"));
            }).find("model_type must be unigram or bpe"),
            std::string::npos);
}
