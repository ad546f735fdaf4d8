// Label models against hand-worked cases, a slow one-iteration Dawid-Skene, and synthetic votes of
// known accuracies: recovery, EM's monotone objective, duplicated functions, bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/weak/label_model.h"

namespace selfsup::weak {
namespace {

double label_accuracy(const LabelModelResult& r, const torch::Tensor& labels) {
  return (r.probabilities.argmax(1) == labels).to(torch::kDouble).mean().item<double>();
}

TEST(MajorityVote, HandWorkedCase) {
  const auto v = torch::tensor({0, 0, 1, 1, -1, -1, -1, -1, -1, 0, 1, -1}, torch::kLong).reshape({4, 3});
  const auto r = majority_vote(v, 2);
  const auto want = torch::tensor({1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5}, torch::kDouble).reshape({4, 2});
  EXPECT_TRUE(torch::allclose(r.probabilities, want));
  // Function 0 votes 0, 1, 0 on rows 0, 1, 3 whose majorities are 0, 1 and a tie.
  EXPECT_NEAR(r.accuracy[0].item<double>(), 2.5 / 3, 1e-12);
  EXPECT_NEAR(r.coverage[0].item<double>(), 0.75, 1e-12);
  EXPECT_NEAR(r.coverage[2].item<double>(), 0.25, 1e-12);
}

TEST(DawidSkene, OneIterationMatchesLoops) {
  const auto data = synthetic_votes(60, {0.8, 0.7, 0.6, 0.9}, {0.9, 0.6, 0.8, 0.5}, {0.5, 0.3, 0.2}, 1);
  const int64_t n = 60, m = 4, k = 3;
  const double a = 0.01;
  const auto v = data.votes;
  // The majority vote's posteriors, then one M-step and one E-step, with plain loops.
  const auto t0 = majority_vote(v, k).probabilities;
  std::vector<double> prior(k);
  std::vector<std::vector<std::vector<double>>> conf(m, std::vector<std::vector<double>>(k, std::vector<double>(k)));
  for (int64_t c = 0; c < k; ++c) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += t0[i][c].item<double>();
    prior[c] = (s + a) / (n + k * a);
    for (int64_t j = 0; j < m; ++j) {
      double total = 0;
      std::vector<double> per(k, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t vote = v[i][j].item<int64_t>();
        if (vote < 0) continue;
        per[vote] += t0[i][c].item<double>();
        total += t0[i][c].item<double>();
      }
      for (int64_t l = 0; l < k; ++l) conf[j][c][l] = (per[l] + a) / (total + k * a);
    }
  }
  const auto r = dawid_skene(v, k, DawidSkeneOptions().max_iter(1).smoothing(a));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> post(k);
    double z = 0;
    for (int64_t c = 0; c < k; ++c) {
      post[c] = prior[c];
      for (int64_t j = 0; j < m; ++j) {
        const int64_t vote = v[i][j].item<int64_t>();
        if (vote >= 0) post[c] *= conf[j][c][vote];
      }
      z += post[c];
    }
    for (int64_t c = 0; c < k; ++c) EXPECT_NEAR(r.probabilities[i][c].item<double>(), post[c] / z, 1e-10) << i << "," << c;
  }
}

TEST(DawidSkene, EmNeverLowersTheObjective) {
  const auto data = synthetic_votes(3000, {0.55, 0.65, 0.75, 0.85, 0.95, 0.6}, {0.5, 0.7, 0.4, 0.9, 0.3, 0.8},
                                    {0.4, 0.35, 0.25}, 2);
  for (const double a : {0.0, 0.01, 1.0}) {
    std::vector<double> obj;
    dawid_skene(data.votes, 3, DawidSkeneOptions().max_iter(50).tol(-1).smoothing(a), &obj);
    ASSERT_EQ(obj.size(), 50u);
    for (size_t i = 1; i < obj.size(); ++i) EXPECT_GE(obj[i], obj[i - 1] - 1e-8 * std::abs(obj[i - 1])) << a << " at " << i;
  }
}

struct Spread {
  // Accuracies evenly over 0.55-0.95, coverage from 0.6 down to 0.2 (the accurate functions are
  // not also the busiest), as `selfsup weak synthetic --coverage-low 0.2 --coverage-high 0.6` writes.
  std::vector<double> accuracy{0.55, 0.5944, 0.6389, 0.6833, 0.7278, 0.7722, 0.8167, 0.8611, 0.9056, 0.95};
  std::vector<double> coverage{0.6, 0.5556, 0.5111, 0.4667, 0.4222, 0.3778, 0.3333, 0.2889, 0.2444, 0.2};
};

TEST(LabelModels, RecoverKnownAccuracies) {
  const Spread s;
  const auto data = synthetic_votes(20000, s.accuracy, s.coverage, {0.5, 0.3, 0.2}, 3);
  const auto truth = torch::tensor(s.accuracy, torch::kDouble);
  for (const auto& name : {"dawid_skene", "matrix_completion"}) {
    const auto r = fit_label_model(name, data.votes, 3);
    const double mae = (r.accuracy - truth).abs().mean().item<double>();
    EXPECT_LE(mae, 0.03) << name << ": " << r.accuracy;
    EXPECT_LE((r.coverage - torch::tensor(s.coverage, torch::kDouble)).abs().max().item<double>(), 0.02) << name;
  }
  const auto given = matrix_completion(data.votes, 3, MatrixCompletionOptions().class_balance({0.5, 0.3, 0.2}));
  EXPECT_LE((given.accuracy - truth).abs().mean().item<double>(), 0.03) << "class balance given";
}

TEST(LabelModels, BeatMajorityVoteWhenAccuraciesSpreadAndTieWhenUniform) {
  const Spread s;
  const auto spread = synthetic_votes(20000, s.accuracy, s.coverage, {0.5, 0.3, 0.2}, 4);
  const double mv = label_accuracy(majority_vote(spread.votes, 3), spread.labels);
  for (const auto& name : {"dawid_skene", "matrix_completion"}) {
    // Unbalanced classes here; the 2-point figure of the balanced case is measured by `weak synthetic`.
    EXPECT_GE(label_accuracy(fit_label_model(name, spread.votes, 3), spread.labels), mv + 0.01) << name;
  }
  const std::vector<double> uniform(10, 0.7);
  const auto same = synthetic_votes(20000, uniform, s.coverage, {0.5, 0.3, 0.2}, 5);
  const double mv2 = label_accuracy(majority_vote(same.votes, 3), same.labels);
  for (const auto& name : {"dawid_skene", "matrix_completion"}) {
    EXPECT_NEAR(label_accuracy(fit_label_model(name, same.votes, 3), same.labels), mv2, 0.02) << name;
  }
}

TEST(LabelModels, DuplicatedFunctionsSwayMajorityVoteNotTheLabelModel) {
  const Spread s;
  const auto data = synthetic_votes(20000, s.accuracy, s.coverage, {0.5, 0.3, 0.2}, 6);
  // Function 0 (accuracy 0.55) copied six times.
  auto dup = torch::cat({data.votes, data.votes.select(1, 0).unsqueeze(1).repeat({1, 6})}, 1);
  const double mv = label_accuracy(majority_vote(data.votes, 3), data.labels);
  const double mv_dup = label_accuracy(majority_vote(dup, 3), data.labels);
  EXPECT_LT(mv_dup, mv - 0.02) << "copies of a weak function should sway majority vote";
  const auto rep = duplicate_functions(dup);
  for (int64_t j = 10; j < 16; ++j) EXPECT_EQ(rep[j], 0);
  for (int64_t j = 1; j < 10; ++j) EXPECT_EQ(rep[j], j);
  for (const auto& name : {"dawid_skene", "matrix_completion"}) {
    const double a = label_accuracy(fit_label_model(name, data.votes, 3), data.labels);
    const auto r = fit_label_model(name, dup, 3);
    EXPECT_NEAR(label_accuracy(r, data.labels), a, 0.005) << name;
    EXPECT_EQ(r.accuracy.size(0), 16) << name;
    EXPECT_NEAR(r.accuracy[15].item<double>(), r.accuracy[0].item<double>(), 1e-12) << name;
  }
}

TEST(SyntheticVotes, HaveTheAskedAccuracyAndCoverage) {
  const auto d = synthetic_votes(20000, {0.9, 0.6}, {0.5, 0.8}, {0.5, 0.5}, 7);
  for (int j = 0; j < 2; ++j) {
    const auto col = d.votes.select(1, j);
    const auto covered = col >= 0;
    const double cov = covered.to(torch::kDouble).mean().item<double>();
    const double acc = (col == d.labels).logical_and(covered).sum().item<double>() / covered.sum().item<double>();
    EXPECT_NEAR(cov, j == 0 ? 0.5 : 0.8, 0.015);
    EXPECT_NEAR(acc, j == 0 ? 0.9 : 0.6, 0.015);
  }
}

TEST(LabelModels, BadInputIsOneClearError) {
  auto expect = [](const std::function<void()>& f, const std::string& text) {
    try {
      f();
      FAIL() << "accepted: " << text;
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.msg()).find(text), std::string::npos) << e.msg();
    }
  };
  const auto v = torch::tensor({0, 1, 3, -1}, torch::kLong).reshape({2, 2});
  expect([&] { majority_vote(v, 3); }, "example 1, function 0 votes 3, outside the classes 0..2");
  expect([&] { dawid_skene(torch::full({3, 2}, -1, torch::kLong), 2); }, "no labeling function votes");
  expect([&] { fit_label_model("snorkel", torch::zeros({2, 2}, torch::kLong), 2); }, "unknown label model 'snorkel'");
  expect([&] { matrix_completion(torch::zeros({2, 2}, torch::kLong), 2, MatrixCompletionOptions().class_balance({1.0})); },
         "class balance: expected 2 values");
}

}  // namespace
}  // namespace selfsup::weak
