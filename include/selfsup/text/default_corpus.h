#pragma once
// The default text corpus and its evaluation sets, built from WordNet's noun synsets and the
// fortune files and split by seed. Held-out synsets (val, test) never give a training sentence:
// their glosses and examples are only evaluated on. What it writes (`selfsup text corpus`):
//   train.txt, val.txt, test.txt   sentences: the split's definitions, examples and fortunes
//   pairs_train.tsv                supervised SimCSE: example, its definition, a sibling's definition
//   sts_{val,test}.tsv             definition, definition, Wu-Palmer similarity of their synsets
//   retrieval_{val,test}.tsv       example, the index of its synset's definition in glosses_*.txt
//   glosses_{val,test}.txt         the split's definitions, one a line (the retrieval candidates)
//   fortunes_{train,val,test}.tsv  category, entry (the probes' labeled task)
// Our own evaluation: it is not STS and its figures are not comparable with STS figures.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/text/fortunes.h"
#include "selfsup/text/wordnet.h"

namespace selfsup::text {

struct CorpusOptions {
  uint64_t seed = 0;
  double val_fraction = 0.1, test_fraction = 0.1;  // of the synsets, and of the fortunes
  /// Gloss pairs per held-out synset: one with a held-out sibling where there is one, the rest
  /// with random held-out synsets (so that the scores spread over the similarity range).
  int64_t sts_pairs_per_synset = 3;
};

/// Writes the files above into `out_dir` (atomically each); returns their counts.
nlohmann::json build_default_corpus(const WordNet& wordnet, const std::vector<Fortune>& fortunes,
                                    const std::string& out_dir, const CorpusOptions& options = {});

}  // namespace selfsup::text
