#pragma once
// The text evaluation of the default corpus (text/default_corpus.h), ours and not comparable with
// STS: on one held-out split (val for choices, test for the report) of
//   sts        gloss pairs, Spearman's rho of the embeddings' cosine against Wu-Palmer similarity
//   retrieval  an example sentence's own definition among the split's glosses (MRR, R@1)
//   probes     the fortune files' category from an entry's embedding: weighted kNN and a linear
//              probe fitted on fortunes_train (its L2 chosen on fortunes_val)
// Any sentence embedder is scored the same way: a trained encoder or a baseline (text/baselines.h).
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace selfsup::text {

/// Sentences to embeddings [N, D] (float, any device); cosine similarity is what is scored.
using Embed = std::function<torch::Tensor(const std::vector<std::string>&)>;

struct EvalSets {
  std::string split;  // "val" or "test"
  std::vector<std::string> sts_a, sts_b;
  std::vector<double> sts_score;
  std::vector<std::string> queries, glosses;
  std::vector<int64_t> gold;  // the index in glosses of each query's definition
  std::vector<std::string> categories;  // the probes' class names, sorted
  std::vector<std::string> probe_train, probe_val, probe_scored;
  torch::Tensor probe_train_y, probe_val_y, probe_scored_y;  // int64 class indices
};

/// Reads a corpus folder's files of `split` (val or test) and the fortunes' training rows; throws
/// naming the file that is missing or malformed (a score that is not a number, a gloss index out
/// of range, a category the training rows lack).
EvalSets read_eval_sets(const std::string& dir, const std::string& split);

struct TextEvalOptions {
  TORCH_ARG(int64_t, knn_k) = 10;
  TORCH_ARG(double, knn_temperature) = 0.1;
  TORCH_ARG(uint64_t, seed) = 0;
};

/// {sts_spearman, retrieval_mrr, retrieval_r1, knn_acc, linear_acc, linear_l2, sentences, seconds}.
nlohmann::json evaluate(const Embed& embed, const EvalSets& sets, const TextEvalOptions& options = {});

}  // namespace selfsup::text
