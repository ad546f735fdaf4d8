#pragma once
// The library forms of `selfsup text tokenizer | corpus | train | embed | similar | eval`: sentence
// embeddings learned from unlabeled text (mlm, simcse, consert; simcse_sup from sentence pairs) on
// a small Transformer, served by the same tool, and scored on the default corpus's evaluation
// (text/evaluate.h) beside TF-IDF, fastText and the untrained encoder.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/run/options.h"
#include "selfsup/text/default_corpus.h"
#include "selfsup/text/tokenizer.h"

namespace selfsup::run {

struct TextTokenizerOptions {
  std::vector<std::string> corpus;  // sentence files (one a line)
  std::string out;                  // the .model file
  text::TokenizerTrainOptions train;
};
/// Trains a SentencePiece model on the corpus files; returns {out, vocab_size, sentences, seconds}.
nlohmann::json text_tokenizer(const TextTokenizerOptions& options);

struct TextCorpusOptions {
  std::string out;
  std::string wordnet = "/usr/share/wordnet/data.noun";   // Debian's wordnet-base
  std::string fortunes = "/usr/share/games/fortunes";     // Debian's fortunes, fortunes-min
  text::CorpusOptions corpus;
};
/// Writes the default corpus and its evaluation sets (text/default_corpus.h) into options.out.
nlohmann::json text_corpus(const TextCorpusOptions& options);

/// Trains the text method of `cfg` on data.train (sentences) or data.pairs (supervised SimCSE),
/// tokenized by data.tokenizer, which the run folder keeps a copy of; `init` (a text run's
/// folder or checkpoint with the same tokenizer and encoder shape) gives the encoder's starting
/// weights. With data.eval (a `text corpus` folder) it then scores the encoder on its val and
/// test sets.
nlohmann::json text_train(Config cfg, const RunOptions& options, const std::string& init = "");

struct TextEmbedOptions {
  std::string checkpoint;  // a text run (its folder, or its checkpoint file)
  std::string in, out;     // sentences (one a line; blank lines skipped), embeddings (.npy float32 [N, dim])
  int threads = 0;         // 0: all cores
  std::string device;      // "": the one it was trained on
};
nlohmann::json text_embed(const TextEmbedOptions& options);

struct TextSimilarOptions {
  std::string checkpoint;
  std::string index;                 // the sentences searched (one a line)
  std::vector<std::string> queries;
  int64_t k = 5;
  int threads = 0;
  std::string device;
};
/// The k index sentences of highest cosine similarity to each query: [{query, hits: [{rank,
/// line, sentence, cosine}]}].
nlohmann::json text_similar(const TextSimilarOptions& options);

struct TextEvalOptions {
  std::vector<std::string> checkpoints;  // trained encoders (text runs)
  /// tfidf, fasttext (fitted on the config's data.train), untrained (the config's encoder as
  /// initialised from its seed, never trained).
  std::vector<std::string> baselines;
  std::string config;     // the data (data.train, data.tokenizer, data.eval); "": the first checkpoint's
  std::string corpus;     // the evaluation folder; "": the config's data.eval
  std::string split = "test";
  std::string work_dir;   // the fastText baseline's files; "": a temporary folder
  int threads = 0;
  std::string device;
};
/// text/evaluate.h's figures for every encoder and baseline on the same sets.
nlohmann::json text_eval(const TextEvalOptions& options);

}  // namespace selfsup::run
