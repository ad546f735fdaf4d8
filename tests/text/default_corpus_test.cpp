// The default corpus's splits: no held-out synset's gloss or example reaches train.txt; each
// retrieval query points at its own synset's definition; each gloss pair carries its synsets'
// Wu-Palmer similarity; each supervised pair's hard negative is a sibling's definition; the same
// seed writes the same files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "selfsup/text/default_corpus.h"

namespace text = selfsup::text;
namespace fs = std::filesystem;

namespace {

/// A three-level tree: root -> 6 parents -> 5 children each, every synset with a definition
/// "def N" and one example "example of N".
text::WordNet tree() {
  std::vector<text::Synset> s;
  s.push_back({1, {"root"}, {}, "def 1", {"example of 1"}});
  for (int64_t p = 0; p < 6; ++p) {
    const int64_t po = 100 + p;
    s.push_back({po, {"p"}, {1}, "def " + std::to_string(po), {"example of " + std::to_string(po)}});
    for (int64_t c = 0; c < 5; ++c) {
      const int64_t co = 1000 + 10 * p + c;
      s.push_back({co, {"c"}, {po}, "def " + std::to_string(co), {"example of " + std::to_string(co)}});
    }
  }
  return text::WordNet(std::move(s));
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream s(line);
  for (std::string c; std::getline(s, c, '\t');) out.push_back(c);
  return out;
}

}  // namespace

TEST(DefaultCorpus, HeldOutSynsetsStayOutOfTraining) {
  const auto wn = tree();
  std::vector<text::Fortune> fortunes;
  for (int i = 0; i < 40; ++i) fortunes.push_back({i % 2 ? "science" : "riddles", "fortune number " + std::to_string(i)});
  const auto dir = fs::temp_directory_path() / "selfsup_default_corpus_test";
  fs::remove_all(dir);
  text::CorpusOptions o;
  o.seed = 3;
  o.val_fraction = o.test_fraction = 0.2;
  const auto j = text::build_default_corpus(wn, fortunes, dir.string(), o);
  const auto train = lines(dir / "train.txt");
  const std::set<std::string> train_set(train.begin(), train.end());
  for (const std::string split : {"val", "test"}) {
    const auto glosses = lines(dir / ("glosses_" + split + ".txt"));
    ASSERT_FALSE(glosses.empty());
    for (const auto& g : glosses) EXPECT_FALSE(train_set.count(g)) << g << " of " << split << " is in train.txt";
    for (const auto& l : lines(dir / ("retrieval_" + split + ".tsv"))) {
      const auto c = cells(l);
      ASSERT_EQ(c.size(), 2u);
      EXPECT_FALSE(train_set.count(c[0]));
      // "example of N" must point at "def N".
      EXPECT_EQ("def " + c[0].substr(11), glosses.at(std::stoul(c[1])));
    }
    for (const auto& l : lines(dir / ("sts_" + split + ".tsv"))) {
      const auto c = cells(l);
      ASSERT_EQ(c.size(), 3u);
      const auto a = wn.index_of(std::stoll(c[0].substr(4))), b = wn.index_of(std::stoll(c[1].substr(4)));
      EXPECT_NEAR(std::stod(c[2]), wn.wu_palmer(a, b), 1e-5);
    }
  }
  for (const auto& l : lines(dir / "pairs_train.tsv")) {
    const auto c = cells(l);
    ASSERT_EQ(c.size(), 3u);
    const auto self = wn.index_of(std::stoll(c[1].substr(4))), neg = wn.index_of(std::stoll(c[2].substr(4)));
    const auto sib = wn.siblings(self);
    EXPECT_NE(std::find(sib.begin(), sib.end(), neg), sib.end()) << l;
  }
  EXPECT_EQ(j["fortunes_train"].get<int64_t>() + j["fortunes_val"].get<int64_t>() + j["fortunes_test"].get<int64_t>(), 40);
  // The same seed, the same files.
  const auto again = fs::temp_directory_path() / "selfsup_default_corpus_test2";
  fs::remove_all(again);
  text::build_default_corpus(wn, fortunes, again.string(), o);
  for (const auto& f : {"train.txt", "sts_test.tsv", "pairs_train.tsv", "fortunes_val.tsv"}) {
    EXPECT_EQ(lines(dir / f), lines(again / f)) << f;
  }
}
