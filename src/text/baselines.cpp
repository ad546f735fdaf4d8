#include "selfsup/text/baselines.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "program.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::text {
namespace fs = std::filesystem;

std::vector<std::string> words(const std::string& sentence) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : sentence) {
    if (std::isalnum(c) || c >= 0x80) {
      w += static_cast<char>(c < 0x80 ? std::tolower(c) : c);
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

TfIdf::TfIdf(const std::vector<std::string>& sentences, int64_t max_features) {
  TORCH_CHECK(max_features >= 1, "TfIdf: max_features must be at least 1, got ", max_features);
  TORCH_CHECK(!sentences.empty(), "TfIdf: no training sentence");
  std::unordered_map<std::string, int64_t> df;
  for (const auto& s : sentences) {
    auto w = words(s);
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    for (auto& x : w) ++df[x];
  }
  std::vector<std::pair<std::string, int64_t>> by_df(df.begin(), df.end());
  // Highest document frequency first, ties by the word, so the vocabulary does not depend on hashing.
  std::sort(by_df.begin(), by_df.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (static_cast<int64_t>(by_df.size()) > max_features) by_df.resize(static_cast<size_t>(max_features));
  const double n = static_cast<double>(sentences.size());
  for (const auto& [w, d] : by_df) {
    index_.emplace(w, static_cast<int64_t>(idf_.size()));
    idf_.push_back(static_cast<float>(std::log((1 + n) / (1 + static_cast<double>(d))) + 1));
  }
}

torch::Tensor TfIdf::embed(const std::vector<std::string>& sentences) const {
  auto out = torch::zeros({static_cast<int64_t>(sentences.size()), vocabulary_size()}, torch::kFloat32);
  auto a = out.accessor<float, 2>();
  for (size_t i = 0; i < sentences.size(); ++i) {
    double norm = 0;
    std::vector<int64_t> seen;
    for (const auto& w : words(sentences[i])) {
      const auto it = index_.find(w);
      if (it == index_.end()) continue;
      a[static_cast<int64_t>(i)][it->second] += idf_[static_cast<size_t>(it->second)];
      seen.push_back(it->second);
    }
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (auto k : seen) norm += static_cast<double>(a[static_cast<int64_t>(i)][k]) * a[static_cast<int64_t>(i)][k];
    if (norm > 0) {
      const auto inv = static_cast<float>(1 / std::sqrt(norm));
      for (auto k : seen) a[static_cast<int64_t>(i)][k] *= inv;
    }
  }
  return out;
}

FastText::FastText(const std::vector<std::string>& sentences, const std::string& work_dir, const FastTextOptions& o)
    : work_dir_(work_dir), program_(o.program()), dim_(o.dim()) {
  TORCH_CHECK(o.dim() >= 1 && o.epochs() >= 1 && o.min_count() >= 1 && o.threads() >= 1,
              "fastText: dim, epochs, min_count and threads must be at least 1");
  fs::create_directories(work_dir_);
  std::ostringstream text;
  for (const auto& s : sentences) {
    const auto w = words(s);
    for (size_t k = 0; k < w.size(); ++k) text << (k ? " " : "") << w[k];
    text << '\n';
  }
  const auto input = (fs::path(work_dir_) / "words.txt").string();
  train::write_file_atomic(input, text.str());
  // A smaller hash table for the character n-grams than fastText's 2M buckets: the corpus is
  // small, and the model file stays ~100 MB instead of ~800 MB.
  detail::run_program({program_, "skipgram", "-input", input, "-output", (fs::path(work_dir_) / "model").string(), "-dim",
                       std::to_string(o.dim()), "-epoch", std::to_string(o.epochs()), "-minCount",
                       std::to_string(o.min_count()), "-thread", std::to_string(o.threads()), "-seed",
                       std::to_string(o.seed()), "-bucket", "200000", "-verbose", "0"},
                      "fastText training", "fasttext");
}

torch::Tensor FastText::embed(const std::vector<std::string>& sentences) const {
  std::unordered_map<std::string, int64_t> index;
  std::vector<std::string> vocab;
  std::vector<std::vector<int64_t>> rows;
  for (const auto& s : sentences) {
    std::vector<int64_t> r;
    for (const auto& w : words(s)) {
      auto [it, added] = index.emplace(w, static_cast<int64_t>(vocab.size()));
      if (added) vocab.push_back(w);
      r.push_back(it->second);
    }
    rows.push_back(std::move(r));
  }
  auto out = torch::zeros({static_cast<int64_t>(sentences.size()), dim_}, torch::kFloat32);
  if (vocab.empty()) return out;
  const auto query = (fs::path(work_dir_) / "query.txt").string(), vectors = (fs::path(work_dir_) / "vectors.txt").string();
  std::ostringstream q;
  for (const auto& w : vocab) q << w << '\n';
  train::write_file_atomic(query, q.str());
  detail::run_program({program_, "print-word-vectors", (fs::path(work_dir_) / "model.bin").string()},
                      "fastText word vectors", "fasttext", query, vectors);
  std::ifstream in(vectors);
  auto table = torch::zeros({static_cast<int64_t>(vocab.size()), dim_}, torch::kFloat32);
  auto t = table.accessor<float, 2>();
  std::string line;
  for (int64_t i = 0; i < static_cast<int64_t>(vocab.size()); ++i) {
    TORCH_CHECK(std::getline(in, line), "fastText word vectors: ", vectors, " ends after ", i, " of ", vocab.size(),
                " words");
    std::istringstream fields(line);
    std::string word;
    fields >> word;
    for (int64_t k = 0; k < dim_; ++k) {
      TORCH_CHECK(fields >> t[i][k], "fastText word vectors: line ", i + 1, " of ", vectors, " has fewer than ", dim_,
                  " numbers");
    }
  }
  auto o = out.accessor<float, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].empty()) continue;
    for (auto w : rows[i]) {
      for (int64_t k = 0; k < dim_; ++k) o[static_cast<int64_t>(i)][k] += t[w][k];
    }
    for (int64_t k = 0; k < dim_; ++k) o[static_cast<int64_t>(i)][k] /= static_cast<float>(rows[i].size());
  }
  return out;
}

}  // namespace selfsup::text
