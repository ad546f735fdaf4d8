// WordNet's data file read as written (words, hypernyms, definition, examples), Wu-Palmer
// similarity against hand-computed values on a small tree, siblings, and the refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "selfsup/text/wordnet.h"
#include "support/error_of.h"

namespace text = selfsup::text;
namespace fs = std::filesystem;

namespace {

// entity -> {abstraction -> idea, physical_entity -> object -> {ball, toy}}.
const char* kData =
    "  1 This software and database is being provided to you, the LICENSEE, by\n"
    "  2 Princeton University under the following license.\n"
    "00001740 03 n 01 entity 0 002 ~ 00002137 n 0000 ~ 00004000 n 0000 | that which is perceived to exist\n"
    "00002137 03 n 01 abstraction 0 002 @ 00001740 n 0000 ~ 00003000 n 0000 | a general concept; \"an example one\"; \"and two\"\n"
    "00003000 09 n 02 idea 0 thought 1 001 @ 00002137 n 0000 | the content of cognition; the main thing you are thinking about; \"it was not a good idea\"\n"
    "00004000 03 n 01 physical_entity 0 001 @ 00001740 n 0000 | an entity that has physical existence\n"
    "00005000 06 n 01 object 0 001 @ 00004000 n 0000 | a tangible and visible entity\n"
    "00006000 06 n 01 ball 0 002 @ 00005000 n 0000 + 01234567 v 0101 | round object that is hit or thrown; \"he threw the ball\" - a coach\n"
    "00007000 06 n 01 toy 0 001 @ 00005000 n 0000 | an artifact designed to be played with\n";

std::string write_wordnet(const std::string& name, const std::string& text) {
  const auto p = (fs::temp_directory_path() / ("selfsup_wordnet_test_" + name)).string();
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST(WordNet, ReadsWordsHypernymsAndGlosses) {
  const auto wn = text::WordNet::read(write_wordnet("data.noun", kData));
  ASSERT_EQ(wn.synsets().size(), 7u);
  const auto& idea = wn.synsets()[wn.index_of(3000)];
  EXPECT_EQ(idea.words, (std::vector<std::string>{"idea", "thought"}));
  EXPECT_EQ(idea.hypernyms, (std::vector<int64_t>{2137}));
  EXPECT_EQ(idea.definition, "the content of cognition; the main thing you are thinking about");
  EXPECT_EQ(idea.examples, (std::vector<std::string>{"it was not a good idea"}));
  EXPECT_EQ(wn.synsets()[wn.index_of(4000)].words, (std::vector<std::string>{"physical entity"}));
  EXPECT_EQ(wn.synsets()[wn.index_of(2137)].examples, (std::vector<std::string>{"an example one", "and two"}));
  const auto& ball = wn.synsets()[wn.index_of(6000)];
  EXPECT_EQ(ball.examples, (std::vector<std::string>{"he threw the ball"}));  // the attribution left out
  EXPECT_EQ(ball.hypernyms, (std::vector<int64_t>{5000}));                   // the verb pointer left out
  EXPECT_EQ(wn.index_of(99), -1);
}

TEST(WordNet, WuPalmerAsNltkComputesIt) {
  const auto wn = text::WordNet::read(write_wordnet("data2.noun", kData));
  auto at = [&](int64_t o) { return wn.index_of(o); };
  EXPECT_EQ(wn.max_depth(at(1740)), 0);
  EXPECT_EQ(wn.max_depth(at(6000)), 3);
  // idea / object: common hypernym entity (depth 0 -> d 1), paths 2 and 2: 2 / (4 + 2).
  EXPECT_NEAR(wn.wu_palmer(at(3000), at(5000)), 2.0 / 6.0, 1e-12);
  // idea / abstraction: abstraction itself (depth 1 -> d 2), paths 1 and 0: 4 / (1 + 4).
  EXPECT_NEAR(wn.wu_palmer(at(3000), at(2137)), 0.8, 1e-12);
  // ball / toy: object (depth 2 -> d 3), paths 1 and 1: 6 / 8.
  EXPECT_NEAR(wn.wu_palmer(at(6000), at(7000)), 0.75, 1e-12);
  EXPECT_NEAR(wn.wu_palmer(at(6000), at(6000)), 1.0, 1e-12);
  EXPECT_NEAR(wn.wu_palmer(at(6000), at(3000)), wn.wu_palmer(at(3000), at(6000)), 1e-15);
}

TEST(WordNet, SiblingsShareAHypernym) {
  const auto wn = text::WordNet::read(write_wordnet("data3.noun", kData));
  EXPECT_EQ(wn.siblings(wn.index_of(6000)), (std::vector<int64_t>{wn.index_of(7000)}));
  EXPECT_EQ(wn.siblings(wn.index_of(2137)), (std::vector<int64_t>{wn.index_of(4000)}));
  EXPECT_TRUE(wn.siblings(wn.index_of(1740)).empty());
}

TEST(WordNet, Refusals) {
  using selfsup::testing::error_of;
  EXPECT_NE(error_of([] { text::WordNet::read("/nonexistent/data.noun"); }).find("wordnet-base"), std::string::npos);
  const auto msg = error_of([] { text::WordNet::read(write_wordnet("bad.noun", "00001740 03 n 02 entity 0\n")); });
  EXPECT_NE(msg.find("line 1 is not a WordNet data line"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { text::WordNet::read(write_wordnet("empty.noun", "  1 license only\n")); }).find("no synset"),
            std::string::npos);
}
