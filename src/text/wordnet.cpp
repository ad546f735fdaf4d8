#include "selfsup/text/wordnet.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <sstream>

namespace selfsup::text {
namespace {

std::string trim_spaces(const std::string& s) {
  const auto a = s.find_first_not_of(' ');
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(' ') - a + 1);
}

/// "definition; \"example one\"; \"example two\"": the definition (parts outside quotes, joined)
/// and the examples.
void split_gloss(const std::string& gloss, Synset& s) {
  std::vector<std::string> parts;
  std::string cur;
  bool quoted = false;
  for (char c : gloss) {
    if (c == '"') quoted = !quoted;
    if (c == ';' && !quoted) {
      parts.push_back(trim_spaces(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(trim_spaces(cur));
  std::string definition;
  for (const auto& p : parts) {
    if (p.size() >= 2 && p.front() == '"') {
      auto e = p.substr(1, p.rfind('"') == 0 ? std::string::npos : p.rfind('"') - 1);
      if (!trim_spaces(e).empty()) s.examples.push_back(trim_spaces(e));
    } else if (!p.empty()) {
      definition += (definition.empty() ? "" : "; ") + p;
    }
  }
  s.definition = definition;
}

}  // namespace

WordNet WordNet::read(const std::string& path) {
  std::ifstream in(path);
  TORCH_CHECK(in.good(), "cannot read WordNet's ", path, " (Debian's wordnet-base installs /usr/share/wordnet/data.noun)");
  std::vector<Synset> synsets;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == ' ') continue;  // the license header
    const auto bar = line.find(" | ");
    std::istringstream f(line.substr(0, bar));
    Synset s;
    std::string lex, type, count_hex;
    auto bad = [&](const char* what) {
      TORCH_CHECK(false, path, ": line ", number, " is not a WordNet data line (", what, ")");
    };
    if (!(f >> s.offset >> lex >> type >> count_hex)) bad("offset, lexicographer file, type, word count");
    const auto words = std::stoll(count_hex, nullptr, 16);
    for (int64_t w = 0; w < words; ++w) {
      std::string word, lex_id;
      if (!(f >> word >> lex_id)) bad("a word");
      std::replace(word.begin(), word.end(), '_', ' ');
      s.words.push_back(word);
    }
    int64_t pointers = 0;
    if (!(f >> pointers)) bad("the pointer count");
    for (int64_t p = 0; p < pointers; ++p) {
      std::string symbol, pos, source_target;
      int64_t target = 0;
      if (!(f >> symbol >> target >> pos >> source_target)) bad("a pointer");
      if ((symbol == "@" || symbol == "@i") && pos == "n") s.hypernyms.push_back(target);
    }
    if (bar != std::string::npos) split_gloss(line.substr(bar + 3), s);
    synsets.push_back(std::move(s));
  }
  TORCH_CHECK(!synsets.empty(), path, ": no synset");
  return WordNet(std::move(synsets));
}

WordNet::WordNet(std::vector<Synset> synsets) : synsets_(std::move(synsets)) {
  const auto n = static_cast<int64_t>(synsets_.size());
  for (int64_t i = 0; i < n; ++i) index_[synsets_[i].offset] = i;
  up_.resize(n);
  down_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    for (auto h : synsets_[i].hypernyms) {
      const auto j = index_of(h);
      if (j < 0) continue;  // a pointer out of the file read: treated as a root
      up_[i].push_back(j);
      down_[j].push_back(i);
    }
  }
  depth_.assign(n, -1);
}

int64_t WordNet::index_of(int64_t offset) const {
  const auto it = index_.find(offset);
  return it == index_.end() ? -1 : it->second;
}

int64_t WordNet::max_depth(int64_t i) const {
  // Iterative post-order: WordNet's hierarchy is a DAG (no hypernym cycles), ~20 levels deep.
  if (depth_[i] >= 0) return depth_[i];
  std::vector<std::pair<int64_t, size_t>> stack{{i, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < up_[node].size()) {
      const auto parent = up_[node][next++];
      if (depth_[parent] < 0) stack.push_back({parent, 0});
      continue;
    }
    int64_t d = 0;
    for (auto p : up_[node]) d = std::max(d, depth_[p] + 1);
    depth_[node] = d;
    stack.pop_back();
  }
  return depth_[i];
}

std::unordered_map<int64_t, int64_t> WordNet::ancestors(int64_t i) const {
  std::unordered_map<int64_t, int64_t> dist{{i, 0}};
  std::deque<int64_t> q{i};
  while (!q.empty()) {
    const auto n = q.front();
    q.pop_front();
    for (auto p : up_[n]) {
      if (dist.emplace(p, dist[n] + 1).second) q.push_back(p);
    }
  }
  return dist;
}

double WordNet::wu_palmer(int64_t a, int64_t b) const {
  const auto da = ancestors(a), db = ancestors(b);
  int64_t best = -1, best_depth = -1;
  for (const auto& [node, dist] : da) {
    if (!db.count(node)) continue;
    const auto d = max_depth(node);
    // The deepest common hypernym; among equally deep ones the closest to both.
    if (d > best_depth || (d == best_depth && dist + db.at(node) < da.at(best) + db.at(best))) {
      best = node;
      best_depth = d;
    }
  }
  if (best < 0) return 0.0;
  const double depth = static_cast<double>(best_depth + 1);
  return 2 * depth / (static_cast<double>(da.at(best) + db.at(best)) + 2 * depth);
}

std::vector<int64_t> WordNet::siblings(int64_t i) const {
  std::vector<int64_t> out;
  for (auto p : up_[i]) {
    for (auto c : down_[p]) {
      if (c != i && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

}  // namespace selfsup::text
