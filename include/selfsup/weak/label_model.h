#pragma once
// Label models for weak supervision: many noisy labeling functions vote (or abstain) on each
// example, and a label model turns the votes matrix into probabilistic labels and an estimate of
// each function's accuracy and coverage, without any true label. Majority vote is the baseline
// every model is measured against; Dawid-Skene fits a confusion matrix per function by EM; the
// matrix-completion model of Ratner et al. (2019, Snorkel's LabelModel) fits the functions'
// class-conditional vote probabilities to their overlaps.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::weak {

/// Votes: int64 [n, m], n examples by m labeling functions; -1 is an abstain, any other value a
/// class in [0, num_classes). Throws naming the first bad entry (a class outside the range), and
/// when no function ever votes.
void check_votes(const torch::Tensor& votes, int64_t num_classes);

struct LabelModelResult {
  torch::Tensor probabilities;  // [n, k] float64; for an example every function abstained on: uniform
                                // (majority vote) or the class balance (the fitted models)
  torch::Tensor accuracy;       // [m] estimated P(vote is right | the function votes)
  torch::Tensor coverage;       // [m] share of examples the function votes on
  torch::Tensor class_balance;  // [k] the class prior used or estimated
  int64_t iterations = 0;
};

/// Each example's vote shares (uniform where every function abstains); a function's accuracy is
/// its agreement with the majority label where it votes (ties split evenly).
LabelModelResult majority_vote(const torch::Tensor& votes, int64_t num_classes);

struct DawidSkeneOptions {
  TORCH_ARG(int64_t, max_iter) = 200;
  TORCH_ARG(double, tol) = 1e-7;         // stop when the objective per example rises less
  TORCH_ARG(double, smoothing) = 0.01;   // Dirichlet pseudo-count on every confusion entry and class
};

/// Dawid and Skene (1979): a k x k confusion matrix per function and a class prior, fitted by EM
/// from the majority vote's posteriors (MAP with `smoothing` pseudo-counts). `objective`, when
/// given, receives the penalised log-likelihood after every iteration: EM never lowers it.
LabelModelResult dawid_skene(const torch::Tensor& votes, int64_t num_classes, const DawidSkeneOptions& options = {},
                             std::vector<double>* objective = nullptr);

struct MatrixCompletionOptions {
  /// Empty: estimated (the majority vote's label distribution over covered examples).
  TORCH_ARG(std::vector<double>, class_balance) = {};
  TORCH_ARG(int64_t, steps) = 1000;
  TORCH_ARG(double, lr) = 0.01;
  TORCH_ARG(double, prec_init) = 0.7;  // the accuracy every function starts from (breaks the sign symmetry)
  TORCH_ARG(double, l2) = 0.0;         // pull towards the starting point
};

/// Ratner et al. (2019): with conditionally independent functions the second moments of their
/// one-hot votes satisfy O = mu P mu^T off each function's own block, with mu[(j, l), c] =
/// P(function j votes l | Y = c) and P the class balance; mu is fitted to the observed O (and its
/// diagonal to each vote's rate) by Adam, its columns put in the order that makes the functions
/// most accurate (their majority is better than chance), and the labels follow by Bayes' rule.
LabelModelResult matrix_completion(const torch::Tensor& votes, int64_t num_classes,
                                   const MatrixCompletionOptions& options = {});

/// Functions whose votes equal another's on (almost) every example both cover: a label model
/// assumes independent functions, so copies count as one. Returns, for every function, the index
/// of the first function it duplicates (itself when none); `agreement` is the share of jointly
/// covered examples on which two functions must agree, with the same coverage to within 1 - agreement.
std::vector<int64_t> duplicate_functions(const torch::Tensor& votes, double agreement = 0.99);

/// A label model by name: "majority_vote", "dawid_skene", "matrix_completion". Duplicated
/// functions are merged before fitting and get their representative's accuracy.
LabelModelResult fit_label_model(const std::string& name, const torch::Tensor& votes, int64_t num_classes,
                                 const std::vector<double>& class_balance = {});
const std::vector<std::string>& label_model_names();

/// Votes of m conditionally independent functions on n examples with labels drawn from
/// `class_balance`: function j votes with probability coverage[j] and is then right with
/// probability accuracy[j], else votes one of the other classes uniformly. Seeded.
struct SyntheticVotes {
  torch::Tensor votes, labels;
};
SyntheticVotes synthetic_votes(int64_t n, const std::vector<double>& accuracy, const std::vector<double>& coverage,
                               const std::vector<double>& class_balance, uint64_t seed);

}  // namespace selfsup::weak
