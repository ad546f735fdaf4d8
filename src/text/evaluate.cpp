#include "selfsup/text/evaluate.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "selfsup/eval/evaluate.h"
#include "selfsup/text/corpus.h"
#include "selfsup/text/metrics.h"

namespace selfsup::text {
namespace fs = std::filesystem;
namespace {

std::string corpus_file(const std::string& dir, const std::string& name) {
  const auto path = (fs::path(dir) / name).string();
  TORCH_CHECK(fs::is_regular_file(path), "text evaluation: no ", name, " in ", dir,
              " (write the corpus with `selfsup text corpus --out ", dir, "`)");
  return path;
}

/// Rows of a two- or three-column file (read_pairs' checks), the expected column count enforced.
SentencePairs read_columns(const std::string& path, size_t columns) {
  auto p = read_pairs(path);
  TORCH_CHECK(columns == 3 ? p.hard_negatives.size() == p.sentences.size() : p.hard_negatives.empty(), path,
              ": expected ", columns, " tab-separated columns");
  return p;
}

int64_t parse_int(const std::string& s, const std::string& path) {
  size_t used = 0;
  int64_t v = -1;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK(used == s.size() && used > 0, path, ": '", s, "' is not an integer");
  return v;
}

double parse_double(const std::string& s, const std::string& path) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK(used == s.size() && used > 0 && std::isfinite(v), path, ": '", s, "' is not a number");
  return v;
}

torch::Tensor normalized(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1));
}

}  // namespace

EvalSets read_eval_sets(const std::string& dir, const std::string& split) {
  TORCH_CHECK(split == "val" || split == "test", "text evaluation: split must be val or test, got '", split, "'");
  EvalSets s;
  s.split = split;
  const auto sts_path = corpus_file(dir, "sts_" + split + ".tsv");
  const auto sts = read_columns(sts_path, 3);
  s.sts_a = sts.sentences;
  s.sts_b = sts.positives;
  for (const auto& v : sts.hard_negatives) s.sts_score.push_back(parse_double(v, sts_path));

  s.glosses = read_sentences(corpus_file(dir, "glosses_" + split + ".txt"));
  const auto ret_path = corpus_file(dir, "retrieval_" + split + ".tsv");
  const auto ret = read_columns(ret_path, 2);
  s.queries = ret.sentences;
  for (const auto& g : ret.positives) {
    const auto i = parse_int(g, ret_path);
    TORCH_CHECK(i >= 0 && i < static_cast<int64_t>(s.glosses.size()), ret_path, ": gloss index ", i,
                " is outside the ", s.glosses.size(), " glosses of glosses_", split, ".txt");
    s.gold.push_back(i);
  }

  const auto train_path = corpus_file(dir, "fortunes_train.tsv");
  const auto train = read_columns(train_path, 2);
  std::set<std::string> names(train.sentences.begin(), train.sentences.end());
  s.categories.assign(names.begin(), names.end());
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < s.categories.size(); ++i) index[s.categories[i]] = static_cast<int64_t>(i);
  auto probe = [&](const std::string& path, std::vector<std::string>& texts, torch::Tensor& y) {
    const auto rows = path == train_path ? train : read_columns(path, 2);
    std::vector<int64_t> labels;
    for (size_t i = 0; i < rows.sentences.size(); ++i) {
      const auto it = index.find(rows.sentences[i]);
      TORCH_CHECK(it != index.end(), path, ": category '", rows.sentences[i], "' has no training row");
      labels.push_back(it->second);
    }
    texts = rows.positives;
    y = torch::tensor(labels, torch::kLong);
  };
  probe(train_path, s.probe_train, s.probe_train_y);
  probe(corpus_file(dir, "fortunes_val.tsv"), s.probe_val, s.probe_val_y);
  if (split == "val") {
    s.probe_scored = s.probe_val, s.probe_scored_y = s.probe_val_y;
  } else {
    probe(corpus_file(dir, "fortunes_test.tsv"), s.probe_scored, s.probe_scored_y);
  }
  return s;
}

nlohmann::json evaluate(const Embed& embed, const EvalSets& s, const TextEvalOptions& o) {
  TORCH_CHECK(o.knn_k() >= 1, "text evaluation: knn_k must be at least 1, got ", o.knn_k());
  TORCH_CHECK(o.knn_temperature() > 0, "text evaluation: knn_temperature must be positive, got ", o.knn_temperature());
  const auto start = std::chrono::steady_clock::now();
  // Every distinct sentence is embedded once (the gloss pairs are the retrieval candidates).
  std::unordered_map<std::string, int64_t> row;
  std::vector<std::string> distinct;
  for (const auto* list : {&s.sts_a, &s.sts_b, &s.queries, &s.glosses, &s.probe_train, &s.probe_val, &s.probe_scored}) {
    for (const auto& x : *list) {
      if (row.emplace(x, static_cast<int64_t>(distinct.size())).second) distinct.push_back(x);
    }
  }
  auto all = embed(distinct).to(torch::kCPU).to(torch::kFloat32);
  TORCH_CHECK(all.dim() == 2 && all.size(0) == static_cast<int64_t>(distinct.size()),
              "text evaluation: the embedder returned ", all.sizes(), " for ", distinct.size(), " sentences");
  auto run = [&](const std::vector<std::string>& x) {
    std::vector<int64_t> idx;
    idx.reserve(x.size());
    for (const auto& v : x) idx.push_back(row.at(v));
    return all.index_select(0, torch::tensor(idx, torch::kLong));
  };
  torch::NoGradGuard no_grad;
  nlohmann::json j = {{"split", s.split}};

  const auto a = normalized(run(s.sts_a)), b = normalized(run(s.sts_b));
  const auto cos = (a * b).sum(1).to(torch::kFloat64).contiguous();
  j["sts_spearman"] = spearman({cos.data_ptr<double>(), cos.data_ptr<double>() + cos.numel()}, s.sts_score);
  j["sts_pairs"] = s.sts_score.size();

  const auto q = normalized(run(s.queries)), g = normalized(run(s.glosses));
  const auto r = retrieval(q.matmul(g.t()), torch::tensor(s.gold, torch::kLong));
  j["retrieval_mrr"] = r.mrr;
  j["retrieval_r1"] = r.recall_at_1;
  j["retrieval_queries"] = s.queries.size();
  j["retrieval_candidates"] = s.glosses.size();

  const auto num_classes = static_cast<int64_t>(s.categories.size());
  const auto ftr = run(s.probe_train), fval = run(s.probe_val);
  const auto fsc = s.split == "val" ? fval : run(s.probe_scored);
  const auto knn = eval::knn_predict(ftr, s.probe_train_y, fsc, num_classes,
                                     eval::KnnOptions().k(o.knn_k()).temperature(o.knn_temperature()));
  j["knn_acc"] = eval::accuracy(knn, s.probe_scored_y);
  const auto head = eval::fit_linear_head(ftr, s.probe_train_y, fval, s.probe_val_y, num_classes,
                                          eval::LinearProbeOptions().seed(o.seed()));
  j["linear_acc"] = eval::accuracy(eval::linear_logits(head, fsc).argmax(1), s.probe_scored_y);
  j["linear_l2"] = head.l2;
  j["probe_classes"] = num_classes;
  j["probe_rows"] = {{"train", s.probe_train.size()}, {"scored", s.probe_scored.size()}};
  j["sentences"] = distinct.size();
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return j;
}

}  // namespace selfsup::text
