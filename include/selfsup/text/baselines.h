#pragma once
// The text evaluation's baselines, fitted on the same training sentences as the encoders:
//   tfidf     TF-IDF vectors of lower-cased words (scikit-learn's TfidfVectorizer defaults:
//             raw counts, smooth idf ln((1 + n) / (1 + df)) + 1, L2-normalised rows), over the
//             max_features words of highest document frequency
//   fasttext  the mean of fastText skip-gram word vectors (Debian's `fasttext` program, run as a
//             child process), out-of-vocabulary words built from their character n-grams
#include <torch/torch.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace selfsup::text {

/// Lower-cased runs of letters and digits (ASCII letters lower-cased; bytes of multi-byte UTF-8
/// characters count as letters), the words both baselines see.
std::vector<std::string> words(const std::string& sentence);

class TfIdf {
 public:
  TfIdf(const std::vector<std::string>& sentences, int64_t max_features = 16384);
  /// [N, V] float32, rows of unit length (a row without a known word is zero).
  torch::Tensor embed(const std::vector<std::string>& sentences) const;
  int64_t vocabulary_size() const { return static_cast<int64_t>(idf_.size()); }

 private:
  std::unordered_map<std::string, int64_t> index_;
  std::vector<float> idf_;
};

struct FastTextOptions {
  TORCH_ARG(int64_t, dim) = 100;
  TORCH_ARG(int64_t, epochs) = 5;
  TORCH_ARG(int64_t, min_count) = 2;
  TORCH_ARG(int64_t, threads) = 1;
  TORCH_ARG(uint64_t, seed) = 0;
  /// The program; Debian's package installs /usr/bin/fasttext.
  TORCH_ARG(std::string, program) = "fasttext";
};

class FastText {
 public:
  /// Trains skip-gram vectors on the sentences' words in `work_dir` (created; model.bin kept there).
  FastText(const std::vector<std::string>& sentences, const std::string& work_dir, const FastTextOptions& options = {});
  /// [N, dim] float32: the mean of each sentence's word vectors (zero without a word).
  torch::Tensor embed(const std::vector<std::string>& sentences) const;

 private:
  std::string work_dir_, program_;
  int64_t dim_;
};

}  // namespace selfsup::text
