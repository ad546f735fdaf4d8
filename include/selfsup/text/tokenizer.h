#pragma once
// Subword tokenization by SentencePiece: a unigram model trained on the user's own corpus, or a
// .model file they bring. SentencePiece's library carries its own protobuf, whose symbols collide
// with the libprotobuf LibTorch loads (a process with both crashes as it starts), so its programs
// (spm_train, spm_encode, spm_decode, spm_export_vocab of Debian's `sentencepiece` package) do the
// work, a batch of sentences per call. Ids 0-3 are fixed so that every model
// this code trains agrees on them: <pad> 0, <unk> 1, <s> 2 (the sentence's first token, whose
// output CLS pooling reads), </s> 3; "[MASK]" is a user-defined piece for masked-language-model
// pretraining.
#include <torch/arg.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace selfsup::text {

struct TokenizerTrainOptions {
  TORCH_ARG(int64_t, vocab_size) = 8000;
  /// "unigram" (SentencePiece's default, and what ALBERT / T5 use) or "bpe".
  TORCH_ARG(std::string, model_type) = "unigram";
  /// Share of the corpus's characters the vocabulary must cover; rarer ones map to <unk>.
  TORCH_ARG(double, character_coverage) = 0.9995;
};

/// Trains a model on `sentences` and writes it to `model_path` atomically (the .model file; no
/// .vocab). Throws naming the option on a vocabulary the corpus cannot fill.
void train_tokenizer(const std::vector<std::string>& sentences, const std::string& model_path,
                     const TokenizerTrainOptions& options = {});

/// A batch of encoded sentences: ids [B, L] int64 padded with <pad>, mask [B, L] bool (true on
/// tokens), every row <s> ... </s> truncated to max_length.
struct TokenBatch {
  torch::Tensor ids, mask;
};

/// Token lists padded with <pad> to the longest.
TokenBatch pad_batch(const std::vector<std::vector<int64_t>>& rows);

class Tokenizer {
 public:
  /// Loads a .model file; throws naming it when it is missing or not a SentencePiece model, or
  /// when its special ids differ from the ones above.
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  /// The pieces' ids, without <s> and </s> (a newline inside a sentence reads as a space).
  std::vector<int64_t> encode(const std::string& sentence) const;
  std::vector<std::vector<int64_t>> encode_all(const std::vector<std::string>& sentences) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  /// <s> + encode(s) + </s> of every sentence, its pieces cut so that it holds at most max_length ids.
  std::vector<std::vector<int64_t>> encode_framed(const std::vector<std::string>& sentences, int64_t max_length) const;
  /// encode_framed for every sentence, padded with <pad> to the longest row.
  TokenBatch encode_batch(const std::vector<std::string>& sentences, int64_t max_length) const;

  int64_t vocab_size() const;
  int64_t mask_id() const { return mask_id_; }
  static constexpr int64_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3;
  /// The model file's bytes, for a checkpoint to carry its tokenizer.
  const std::string& serialized() const { return serialized_; }

 private:
  struct Files;  // a private copy of the model, for the programs to read
  std::unique_ptr<Files> files_;
  std::string serialized_;
  int64_t vocab_size_ = 0;
  int64_t mask_id_ = -1;
};

}  // namespace selfsup::text
