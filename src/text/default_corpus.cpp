#include "selfsup/text/default_corpus.h"

#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "selfsup/core/runtime.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::text {
namespace fs = std::filesystem;
namespace {

enum Split { kTrain = 0, kVal = 1, kTest = 2 };
const char* kSplitNames[] = {"train", "val", "test"};

/// A split for each of n items: a seeded permutation, the first val_fraction val, the next
/// test_fraction test, the rest train.
std::vector<Split> assign(int64_t n, double val_fraction, double test_fraction, torch::Generator& gen) {
  const auto perm = torch::randperm(n, gen, torch::kLong);
  const auto nv = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(n)));
  const auto nt = static_cast<int64_t>(std::llround(test_fraction * static_cast<double>(n)));
  std::vector<Split> out(n, kTrain);
  for (int64_t i = 0; i < n; ++i) {
    const auto at = perm[i].item<int64_t>();
    out[at] = i < nv ? kVal : i < nv + nt ? kTest : kTrain;
  }
  return out;
}

/// One line of a TSV: tabs and newlines inside a field become spaces.
std::string field(std::string s) {
  for (auto& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

nlohmann::json build_default_corpus(const WordNet& wn, const std::vector<Fortune>& fortunes, const std::string& out,
                                    const CorpusOptions& o) {
  TORCH_CHECK(o.val_fraction > 0 && o.test_fraction > 0 && o.val_fraction + o.test_fraction < 1,
              "text corpus: val and test fractions must be positive and leave training data, got ", o.val_fraction,
              " and ", o.test_fraction);
  auto gen = make_generator(derive_seed(o.seed, "text corpus"));
  const auto& syn = wn.synsets();
  const auto n = static_cast<int64_t>(syn.size());
  const auto split = assign(n, o.val_fraction, o.test_fraction, gen);
  const auto fsplit = assign(static_cast<int64_t>(fortunes.size()), o.val_fraction, o.test_fraction, gen);

  std::ostringstream sentences[3], sts[3], retrieval[3], glosses[3], fortune_tsv[3], pairs;
  int64_t counts[3] = {0, 0, 0}, sts_count[3] = {0, 0, 0}, retrieval_count[3] = {0, 0, 0}, pair_count = 0;
  std::vector<int64_t> gloss_index(n, -1), gloss_count(3, 0);
  std::vector<std::vector<int64_t>> held(3);
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = syn[i];
    if (s.definition.empty()) continue;
    const auto sp = split[i];
    sentences[sp] << field(s.definition) << '\n';
    ++counts[sp];
    for (const auto& e : s.examples) {
      sentences[sp] << field(e) << '\n';
      ++counts[sp];
    }
    if (sp == kTrain) {
      // Supervised pairs: an example and its definition, a sibling's definition the hard negative.
      const auto sib = wn.siblings(i);
      for (size_t k = 0; k < s.examples.size() && !sib.empty(); ++k) {
        const auto neg = sib[static_cast<size_t>(torch::randint(static_cast<int64_t>(sib.size()), {1}, gen).item<int64_t>())];
        if (syn[neg].definition.empty()) continue;
        pairs << field(s.examples[k]) << '\t' << field(s.definition) << '\t' << field(syn[neg].definition) << '\n';
        ++pair_count;
      }
      continue;
    }
    gloss_index[i] = gloss_count[sp]++;
    glosses[sp] << field(s.definition) << '\n';
    held[sp].push_back(i);
  }
  for (int sp : {kVal, kTest}) {
    for (auto i : held[sp]) {
      for (const auto& e : syn[i].examples) {
        retrieval[sp] << field(e) << '\t' << gloss_index[i] << '\n';
        ++retrieval_count[sp];
      }
      // Gloss pairs spread over the similarity range: a held-out sibling, then random held-out synsets.
      std::vector<int64_t> partners;
      for (auto s : wn.siblings(i)) {
        if (split[s] == sp && gloss_index[s] >= 0) {
          partners.push_back(s);
          break;
        }
      }
      while (static_cast<int64_t>(partners.size()) < o.sts_pairs_per_synset && held[sp].size() > 1) {
        const auto j = held[sp][static_cast<size_t>(
            torch::randint(static_cast<int64_t>(held[sp].size()), {1}, gen).item<int64_t>())];
        if (j != i) partners.push_back(j);
      }
      for (auto j : partners) {
        sts[sp] << field(syn[i].definition) << '\t' << field(syn[j].definition) << '\t' << wn.wu_palmer(i, j) << '\n';
        ++sts_count[sp];
      }
    }
  }
  int64_t fortune_count[3] = {0, 0, 0};
  for (size_t k = 0; k < fortunes.size(); ++k) {
    const auto sp = fsplit[k];
    sentences[sp] << field(fortunes[k].text) << '\n';
    ++counts[sp];
    fortune_tsv[sp] << field(fortunes[k].category) << '\t' << field(fortunes[k].text) << '\n';
    ++fortune_count[sp];
  }
  fs::create_directories(out);
  auto write = [&](const std::string& name, const std::ostringstream& s) {
    train::write_file_atomic((fs::path(out) / name).string(), s.str());
  };
  nlohmann::json j = {{"seed", o.seed}, {"synsets", n}, {"fortunes", fortunes.size()}, {"supervised_pairs", pair_count}};
  for (int sp : {kTrain, kVal, kTest}) {
    const std::string name = kSplitNames[sp];
    write(name + ".txt", sentences[sp]);
    write("fortunes_" + name + ".tsv", fortune_tsv[sp]);
    j["sentences_" + name] = counts[sp];
    j["fortunes_" + name] = fortune_count[sp];
    if (sp != kTrain) {
      write("sts_" + name + ".tsv", sts[sp]);
      write("retrieval_" + name + ".tsv", retrieval[sp]);
      write("glosses_" + name + ".txt", glosses[sp]);
      j["sts_pairs_" + name] = sts_count[sp];
      j["retrieval_queries_" + name] = retrieval_count[sp];
      j["glosses_" + name] = gloss_count[sp];
    }
  }
  write("pairs_train.tsv", pairs);
  train::write_file_atomic((fs::path(out) / "corpus.json").string(), j.dump(2) + "\n");
  return j;
}

}  // namespace selfsup::text
