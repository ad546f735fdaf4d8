// The text evaluation and its baselines: on a small hand-made corpus folder with an embedder whose
// vectors are known, each figure equals its definition computed here by loops; TF-IDF against
// scikit-learn's formula by hand; malformed folders are refused naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "selfsup/text/baselines.h"
#include "selfsup/text/evaluate.h"
#include "selfsup/text/metrics.h"
#include "support/error_of.h"

using selfsup::testing::error_of;
namespace text = selfsup::text;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

/// Four glosses, three queries, four gloss pairs, fortunes of two categories.
fs::path corpus_folder(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("selfsup_text_eval_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  write(d / "glosses_val.txt", "a cat\na dog\na car\na boat\n");
  write(d / "retrieval_val.tsv", "the cat sat\t0\nthe car drove\t2\nthe boat sank\t1\n");
  write(d / "sts_val.tsv", "a cat\ta dog\t0.8\na cat\ta car\t0.2\na car\ta boat\t0.6\na dog\ta boat\t0.1\n");
  write(d / "fortunes_train.tsv", "x\tx one\nx\tx two\ny\ty one\ny\ty two\n");
  write(d / "fortunes_val.tsv", "x\tx three\ny\ty three\n");
  return d;
}

/// Fixed 3-d vectors: the animals near each other, the vehicles near each other; the fortunes by
/// their first letter.
torch::Tensor embed(const std::vector<std::string>& s) {
  static const std::map<std::string, std::vector<float>> v = {
      {"a cat", {1, 0.1f, 0}},       {"a dog", {0.9f, 0.3f, 0}},      {"a car", {0, 1, 0.1f}},
      {"a boat", {0.2f, 0.9f, 0.4f}}, {"the cat sat", {1, 0, 0}},      {"the car drove", {0, 1, 0}},
      {"the boat sank", {1, 0.2f, 0}}, {"x one", {0, 0, 1}},           {"x two", {0.1f, 0, 1}},
      {"x three", {0, 0.1f, 1}},      {"y one", {1, 1, 0}},            {"y two", {1, 0.9f, 0}},
      {"y three", {0.9f, 1, 0}}};
  auto out = torch::zeros({static_cast<int64_t>(s.size()), 3});
  for (size_t i = 0; i < s.size(); ++i) out[static_cast<int64_t>(i)] = torch::tensor(v.at(s[i]));
  return out;
}

double cosine(const std::string& a, const std::string& b) {
  const auto x = embed({a})[0], y = embed({b})[0];
  return (x.dot(y) / (x.norm() * y.norm())).item<double>();
}

}  // namespace

TEST(TextEvaluate, EachFigureIsItsDefinition) {
  const auto sets = text::read_eval_sets(corpus_folder("ok").string(), "val");
  const auto j = text::evaluate(embed, sets);
  // Spearman of the pairs' cosines against the scores.
  const std::vector<double> cos{cosine("a cat", "a dog"), cosine("a cat", "a car"), cosine("a car", "a boat"),
                                cosine("a dog", "a boat")};
  EXPECT_NEAR(j["sts_spearman"].get<double>(), text::spearman(cos, {0.8, 0.2, 0.6, 0.1}), 1e-12);
  // Retrieval by loops: the rank of the gold gloss among the four by cosine.
  const std::vector<std::string> glosses{"a cat", "a dog", "a car", "a boat"};
  const std::vector<std::pair<std::string, int>> queries{{"the cat sat", 0}, {"the car drove", 2}, {"the boat sank", 1}};
  double mrr = 0, r1 = 0;
  for (const auto& [q, gold] : queries) {
    int rank = 1;
    for (const auto& g : glosses) rank += cosine(q, g) > cosine(q, glosses[static_cast<size_t>(gold)]) + 1e-12;
    mrr += 1.0 / rank / 3, r1 += (rank == 1) / 3.0;
  }
  EXPECT_NEAR(j["retrieval_mrr"].get<double>(), mrr, 1e-9);
  EXPECT_NEAR(j["retrieval_r1"].get<double>(), r1, 1e-9);
  EXPECT_LT(j["retrieval_r1"].get<double>(), 1.0);  // "the boat sank" is nearest the cat: not a trivial case
  // The fortunes are separable by their embeddings: both probes get them all.
  EXPECT_EQ(j["knn_acc"].get<double>(), 1.0);
  EXPECT_EQ(j["linear_acc"].get<double>(), 1.0);
  EXPECT_EQ(j["probe_classes"].get<int64_t>(), 2);
  EXPECT_EQ(j["sentences"].get<int64_t>(), 13);  // every distinct sentence once
}

TEST(TextEvaluate, MalformedFoldersAreRefusedNamingTheFile) {
  auto d = corpus_folder("missing");
  fs::remove(d / "sts_val.tsv");
  EXPECT_NE(error_of([&] { text::read_eval_sets(d.string(), "val"); }).find("no sts_val.tsv"), std::string::npos);
  d = corpus_folder("score");
  write(d / "sts_val.tsv", "a cat\ta dog\thigh\n");
  EXPECT_NE(error_of([&] { text::read_eval_sets(d.string(), "val"); }).find("'high' is not a number"), std::string::npos);
  d = corpus_folder("index");
  write(d / "retrieval_val.tsv", "the cat sat\t4\n");
  EXPECT_NE(error_of([&] { text::read_eval_sets(d.string(), "val"); }).find("gloss index 4 is outside the 4 glosses"),
            std::string::npos);
  d = corpus_folder("category");
  write(d / "fortunes_val.tsv", "z\tz one\n");
  EXPECT_NE(error_of([&] { text::read_eval_sets(d.string(), "val"); }).find("category 'z' has no training row"),
            std::string::npos);
  EXPECT_NE(error_of([&] { text::read_eval_sets(d.string(), "train"); }).find("split must be val or test"),
            std::string::npos);
}

TEST(TfIdf, WordsAndVectorsFollowScikitLearnsDefaults) {
  EXPECT_EQ(text::words("The Cat's 2 hats!"), (std::vector<std::string>{"the", "cat", "s", "2", "hats"}));
  const std::vector<std::string> corpus{"the cat", "the dog", "a cat and the cat"};
  const text::TfIdf t(corpus);
  ASSERT_EQ(t.vocabulary_size(), 5);
  // "the cat cat": tf the 1, cat 2; idf ln((1 + 3) / (1 + df)) + 1 with df the 3, cat 2.
  const double idf_the = std::log(4.0 / 4) + 1, idf_cat = std::log(4.0 / 3) + 1;
  const double a = idf_the, b = 2 * idf_cat, n = std::sqrt(a * a + b * b);
  const auto v = t.embed({"the cat cat", "unknown words"});
  EXPECT_NEAR(v[0].norm().item<double>(), 1.0, 1e-6);
  EXPECT_EQ(v[1].abs().sum().item<double>(), 0.0);
  // The vocabulary by document frequency: "the" (3) first, then "cat" (2).
  EXPECT_NEAR(v[0][0].item<double>(), a / n, 1e-6);
  EXPECT_NEAR(v[0][1].item<double>(), b / n, 1e-6);
  const text::TfIdf capped(corpus, 2);
  EXPECT_EQ(capped.vocabulary_size(), 2);
}
