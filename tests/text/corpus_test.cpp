// The text readers: UTF-8 validation against the standard's boundary cases, sentences and pairs
// read as written (CRLF, blank lines, surrounding spaces), gzip read alike, and one error naming
// the file and line for each kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "selfsup/text/corpus.h"
#include "support/error_of.h"

using selfsup::testing::error_of;
namespace text = selfsup::text;
namespace fs = std::filesystem;

namespace {

std::string write_temp(const std::string& name, const std::string& bytes) {
  const auto path = (fs::temp_directory_path() / ("selfsup_corpus_test_" + name)).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

TEST(Utf8, AcceptsWellFormedAndFindsTheFirstBadByte) {
  EXPECT_FALSE(text::invalid_utf8_at("plain ascii"));
  EXPECT_FALSE(text::invalid_utf8_at("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_FALSE(text::invalid_utf8_at("\xF4\x8F\xBF\xBF"));                        // U+10FFFF
  EXPECT_EQ(text::invalid_utf8_at("ab\x80"), 2u);                                 // lone continuation
  EXPECT_EQ(text::invalid_utf8_at("a\xC3"), 1u);                                  // truncated
  EXPECT_EQ(text::invalid_utf8_at("\xC0\xAF"), 0u);                               // overlong '/'
  EXPECT_EQ(text::invalid_utf8_at("\xE0\x80\xAF"), 0u);                           // overlong
  EXPECT_EQ(text::invalid_utf8_at("x\xED\xA0\x80"), 1u);                          // surrogate D800
  EXPECT_EQ(text::invalid_utf8_at("\xF4\x90\x80\x80"), 0u);                       // above U+10FFFF
  EXPECT_EQ(text::invalid_utf8_at("\xFF"), 0u);
  EXPECT_EQ(text::invalid_utf8_at("\xC3\x28"), 0u);                               // bad continuation
}

TEST(ReadSentences, OneSentenceALine) {
  const auto p = write_temp("s.txt", "first line\r\n\n  second, padded \t\ncaf\xC3\xA9\n");
  EXPECT_EQ(text::read_sentences(p), (std::vector<std::string>{"first line", "second, padded", "caf\xC3\xA9"}));
}

TEST(ReadSentences, Refusals) {
  EXPECT_NE(error_of([] { text::read_sentences(write_temp("empty.txt", "\n \n\t\n")); }).find("no sentence"),
            std::string::npos);
  const auto bad = error_of([] { text::read_sentences(write_temp("bad.txt", "ok\nfine\nab\xFF" "cd\n")); });
  EXPECT_NE(bad.find("line 3 is not valid UTF-8 (byte 3 of the line, 0xFF)"), std::string::npos) << bad;
  EXPECT_NE(error_of([] { text::read_sentences("/nonexistent/corpus.txt"); }).find("/nonexistent/corpus.txt"),
            std::string::npos);
}

TEST(ReadPairs, TwoOrThreeColumns) {
  const auto two = text::read_pairs(write_temp("p2.tsv", "a cat\ta feline\n\nthe sky\tthe heavens\n"));
  EXPECT_EQ(two.sentences, (std::vector<std::string>{"a cat", "the sky"}));
  EXPECT_EQ(two.positives, (std::vector<std::string>{"a feline", "the heavens"}));
  EXPECT_TRUE(two.hard_negatives.empty());
  const auto three = text::read_pairs(write_temp("p3.tsv", "a cat\ta feline\ta dog\r\n"));
  EXPECT_EQ(three.hard_negatives, (std::vector<std::string>{"a dog"}));
}

TEST(ReadPairs, Refusals) {
  auto msg = error_of([] { text::read_pairs(write_temp("m1.tsv", "a\tb\nc\n")); });
  EXPECT_NE(msg.find("line 2 has 1 columns, the first line 2"), std::string::npos) << msg;
  msg = error_of([] { text::read_pairs(write_temp("m2.tsv", "only one column\n")); });
  EXPECT_NE(msg.find("line 1 has 1 tab-separated column;"), std::string::npos) << msg;
  msg = error_of([] { text::read_pairs(write_temp("m3.tsv", "a\t\n")); });
  EXPECT_NE(msg.find("line 1, column 2 is empty"), std::string::npos) << msg;
  msg = error_of([] { text::read_pairs(write_temp("m4.tsv", "a\tb\tc\nd\te\n")); });
  EXPECT_NE(msg.find("line 2 has 2 columns, the first line 3 (sentence, positive, hard negative)"), std::string::npos)
      << msg;
  EXPECT_NE(error_of([] { text::read_pairs(write_temp("m5.tsv", "")); }).find("no sentence pair"), std::string::npos);
}
