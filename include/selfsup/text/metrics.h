#pragma once
// The text evaluation's figures: Spearman's rank correlation (ties share their mean rank), and
// retrieval's mean reciprocal rank and recall at 1 from a similarity matrix.
#include <torch/types.h>

#include <vector>

namespace selfsup::text {

/// Ranks 1..n of x, tied values sharing the mean of their ranks.
std::vector<double> ranks(const std::vector<double>& x);

/// Spearman's rho: the Pearson correlation of ranks(x) and ranks(y). Throws on fewer than two
/// values, different lengths, or a constant input (rho undefined).
double spearman(const std::vector<double>& x, const std::vector<double>& y);

struct Retrieval {
  double mrr = 0, recall_at_1 = 0;
};
/// Queries [Q] against candidates: similarity [Q, C], gold int64 [Q] (the right candidate of each
/// query). The rank of the gold candidate is 1 + the number of candidates scored strictly higher
/// (a tie is resolved in the query's favour).
Retrieval retrieval(const torch::Tensor& similarity, const torch::Tensor& gold);

}  // namespace selfsup::text
