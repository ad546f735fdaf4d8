#pragma once
// How good a binary (positive-unlabeled) classifier is, and the class prior of unlabeled data
// estimated from a labeled-vs-unlabeled classifier's scores on held-out data:
// - binary_figures: accuracy, precision, recall, F1 of decisions, and the ROC AUC of the scores;
// - Elkan and Noto (2008): c = the mean probability such a classifier gives held-out labeled
//   positives; trained at odds r of labeled against unlabeled, pi = r (1 - c) / c;
// - best-bin estimation (BBE, Garg et al. 2021): for every threshold t, the fractions q_U(t) and
//   q_P(t) of held-out unlabeled images and labeled positives scoring >= t give q_U / q_P, which is
//   >= pi and equals it on a bin only positives reach; the t minimising the upper confidence bound
//   q_U / q_P + (1 + gamma) / q_P (sqrt(log(1 / delta) / 2 n_P) + sqrt(log(1 / delta) / 2 n_U))
//   is chosen and its q_U / q_P returned (the reference code's delta 0.1, gamma 0.01).
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

namespace selfsup::eval {

struct BinaryFigures {
  double accuracy = 0, precision = 0, recall = 0, f1 = 0, auc = 0;
  int64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
};

/// Figures of `decision` values (> 0 predicts positive; also the scores the AUC ranks) against
/// 0/1 `labels`, both [N]. Precision is 0 when nothing is predicted positive, F1 0 when precision
/// and recall are.
BinaryFigures binary_figures(const torch::Tensor& decision, const torch::Tensor& labels);

/// {prefix_acc, prefix_precision, prefix_recall, prefix_f1, prefix_auc, prefix_confusion}.
nlohmann::json binary_figures_json(const BinaryFigures& f, const std::string& prefix);

/// Area under the ROC curve of `scores` [N] for 0/1 `labels` [N]: the chance a random positive
/// scores above a random negative, ties counting one half (the Mann-Whitney statistic with
/// average ranks). Needs both classes.
double roc_auc(const torch::Tensor& scores, const torch::Tensor& labels);

/// Elkan and Noto's c: the mean of `probabilities` [N] (a labeled-vs-unlabeled classifier's
/// p(s = 1 | x) on held-out labeled positives).
double elkan_noto_c(const torch::Tensor& probabilities);
/// The prior of the unlabeled data from c, for a classifier trained at `labeled_odds` r of the
/// labeled against the unlabeled term: r (1 - c) / c.
double elkan_noto_prior(double c, double labeled_odds);

struct BbeOptions {
  TORCH_ARG(double, delta) = 0.1;   // confidence of the DKW bound
  TORCH_ARG(double, gamma) = 0.01;  // slack of the bound
};

struct BbeEstimate {
  double prior = 0;      // q_U / q_P at the chosen threshold
  double threshold = 0;  // the chosen t
  double q_unlabeled = 0, q_positive = 0;
  double upper_bound = 0;  // the bound that chose it
};

/// Best-bin estimation from scores of held-out labeled positives [Np] and unlabeled images [Nu]
/// (any scores that rank alike: probabilities, logits).
BbeEstimate bbe_prior(const torch::Tensor& positive_scores, const torch::Tensor& unlabeled_scores,
                      const BbeOptions& options = {});

}  // namespace selfsup::eval
