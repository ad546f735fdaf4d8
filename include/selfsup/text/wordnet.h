#pragma once
// WordNet's noun synsets as Debian's wordnet-base installs them (/usr/share/wordnet/data.noun):
// each synset's words, its hypernyms, its gloss's definition and example sentences. The text
// evaluation is built from them: gloss pairs scored against the Wu-Palmer similarity of their
// synsets, and retrieval of the right gloss for an example sentence. The default text corpus is
// their glosses and examples with the fortune files (text/fortunes.h).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace selfsup::text {

struct Synset {
  int64_t offset = 0;                 // the byte offset that names it in data.noun
  std::vector<std::string> words;     // lemmas, '_' read as ' '
  std::vector<int64_t> hypernyms;     // offsets of its hypernyms and instance hypernyms (@, @i)
  std::string definition;             // the gloss without its examples
  std::vector<std::string> examples;  // the gloss's quoted example sentences
};

class WordNet {
 public:
  /// Parses a data.noun file (the license header's lines start with a space). Throws naming the
  /// file and line on a malformed entry, and when no synset is found.
  static WordNet read(const std::string& data_noun);
  /// From synsets directly (the tests' small trees).
  explicit WordNet(std::vector<Synset> synsets);

  const std::vector<Synset>& synsets() const { return synsets_; }
  /// The synset's index, or -1.
  int64_t index_of(int64_t offset) const;
  /// The longest hypernym path from the synset up to a root, in edges (a root has 0).
  int64_t max_depth(int64_t i) const;
  /// The Wu-Palmer similarity as NLTK computes it for nouns: with c the lowest common hypernym
  /// (the common hypernym of greatest max_depth, the synsets themselves included), d = max_depth(c)
  /// + 1 and l_i the shortest hypernym path from synset i to c,  2 d / (l_1 + l_2 + 2 d). 0 when
  /// they share no hypernym (the noun hierarchy has one root, entity).
  double wu_palmer(int64_t a, int64_t b) const;
  /// Synsets that share a hypernym with `i` (its siblings: supervised SimCSE's hard negatives).
  std::vector<int64_t> siblings(int64_t i) const;

 private:
  /// Every hypernym of i (i itself at 0) with its shortest distance.
  std::unordered_map<int64_t, int64_t> ancestors(int64_t i) const;

  std::vector<Synset> synsets_;
  std::unordered_map<int64_t, int64_t> index_;
  std::vector<std::vector<int64_t>> up_, down_;  // hypernym / hyponym indices
  mutable std::vector<int64_t> depth_;            // max_depth, memoised (-1: not yet)
};

}  // namespace selfsup::text
