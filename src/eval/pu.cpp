#include "selfsup/eval/pu.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace selfsup::eval {
namespace {

std::vector<double> doubles_of(const torch::Tensor& t, const char* fn, const char* name) {
  TORCH_CHECK(t.defined() && t.dim() == 1, fn, ": ", name, " must be 1-D [N], got shape ",
              t.defined() ? t.sizes() : torch::IntArrayRef{});
  const auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> v(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  for (double x : v) TORCH_CHECK(!std::isnan(x), fn, ": ", name, " holds NaN");
  return v;
}

std::vector<int64_t> binary_labels_of(const torch::Tensor& labels, int64_t n, const char* fn) {
  TORCH_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == n, fn, ": labels must have shape [", n,
              "], got ", labels.defined() ? labels.sizes() : torch::IntArrayRef{});
  const auto c = labels.to(torch::kCPU, torch::kLong).contiguous();
  std::vector<int64_t> v(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + n);
  for (int64_t y : v) TORCH_CHECK(y == 0 || y == 1, fn, ": labels must be 0 or 1, got ", y);
  return v;
}

}  // namespace

double roc_auc(const torch::Tensor& scores, const torch::Tensor& labels) {
  const auto s = doubles_of(scores, "roc_auc", "scores");
  const auto y = binary_labels_of(labels, static_cast<int64_t>(s.size()), "roc_auc");
  const size_t n = s.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  // Ranks 1..n, tied scores sharing their average rank.
  double positive_rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && s[order[j]] == s[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (y[order[k]] == 1) {
        positive_rank_sum += rank;
        ++positives;
      }
    }
    i = j;
  }
  const int64_t negatives = static_cast<int64_t>(n) - positives;
  TORCH_CHECK(positives > 0 && negatives > 0, "roc_auc needs both classes, got ", positives, " positives and ",
              negatives, " negatives");
  const double p = static_cast<double>(positives), q = static_cast<double>(negatives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * q);
}

BinaryFigures binary_figures(const torch::Tensor& decision, const torch::Tensor& labels) {
  const auto d = doubles_of(decision, "binary_figures", "decision");
  const auto y = binary_labels_of(labels, static_cast<int64_t>(d.size()), "binary_figures");
  BinaryFigures f;
  for (size_t i = 0; i < d.size(); ++i) {
    const bool predicted = d[i] > 0;
    if (y[i] == 1) {
      (predicted ? f.true_positives : f.false_negatives)++;
    } else {
      (predicted ? f.false_positives : f.true_negatives)++;
    }
  }
  const auto ratio = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  f.accuracy = ratio(f.true_positives + f.true_negatives, static_cast<int64_t>(d.size()));
  f.precision = ratio(f.true_positives, f.true_positives + f.false_positives);
  f.recall = ratio(f.true_positives, f.true_positives + f.false_negatives);
  f.f1 = f.precision + f.recall > 0 ? 2 * f.precision * f.recall / (f.precision + f.recall) : 0.0;
  f.auc = roc_auc(decision, labels);
  return f;
}

nlohmann::json binary_figures_json(const BinaryFigures& f, const std::string& p) {
  return {{p + "_acc", f.accuracy},
          {p + "_precision", f.precision},
          {p + "_recall", f.recall},
          {p + "_f1", f.f1},
          {p + "_auc", f.auc},
          {p + "_confusion",
           {{"true_positives", f.true_positives},
            {"false_positives", f.false_positives},
            {"true_negatives", f.true_negatives},
            {"false_negatives", f.false_negatives}}}};
}

double elkan_noto_c(const torch::Tensor& probabilities) {
  const auto p = doubles_of(probabilities, "elkan_noto_c", "probabilities");
  TORCH_CHECK(!p.empty(), "elkan_noto_c needs at least one held-out labeled positive");
  return std::accumulate(p.begin(), p.end(), 0.0) / static_cast<double>(p.size());
}

double elkan_noto_prior(double c, double labeled_odds) {
  TORCH_CHECK(c > 0 && c <= 1, "elkan_noto_prior: c must be in (0, 1], got ", c);
  TORCH_CHECK(labeled_odds > 0 && std::isfinite(labeled_odds), "elkan_noto_prior: labeled_odds must be > 0, got ",
              labeled_odds);
  return labeled_odds * (1 - c) / c;
}

BbeEstimate bbe_prior(const torch::Tensor& positive_scores, const torch::Tensor& unlabeled_scores,
                      const BbeOptions& o) {
  auto p = doubles_of(positive_scores, "bbe_prior", "positive_scores");
  auto u = doubles_of(unlabeled_scores, "bbe_prior", "unlabeled_scores");
  TORCH_CHECK(!p.empty() && !u.empty(), "bbe_prior needs held-out labeled positives and unlabeled images, got ",
              p.size(), " and ", u.size());
  TORCH_CHECK(o.delta() > 0 && o.delta() < 1, "bbe_prior: delta must be in (0, 1), got ", o.delta());
  TORCH_CHECK(o.gamma() >= 0, "bbe_prior: gamma must be >= 0, got ", o.gamma());
  std::sort(p.begin(), p.end(), std::greater<>());
  std::sort(u.begin(), u.end(), std::greater<>());
  const double np = static_cast<double>(p.size()), nu = static_cast<double>(u.size());
  const double slack =
      (1 + o.gamma()) * (std::sqrt(std::log(1 / o.delta()) / (2 * np)) + std::sqrt(std::log(1 / o.delta()) / (2 * nu)));
  BbeEstimate best;
  best.upper_bound = std::numeric_limits<double>::infinity();
  size_t j = 0;  // positives scoring >= the current threshold
  for (size_t i = 0; i < u.size(); ++i) {
    // Thresholds are the unlabeled scores; a tie group is counted whole, at its last member.
    if (i + 1 < u.size() && u[i + 1] == u[i]) continue;
    const double t = u[i];
    while (j < p.size() && p[j] >= t) ++j;
    if (j == 0) continue;
    const double q_u = static_cast<double>(i + 1) / nu, q_p = static_cast<double>(j) / np;
    const double upper = q_u / q_p + slack / q_p;
    if (upper < best.upper_bound) best = {q_u / q_p, t, q_u, q_p, upper};
  }
  TORCH_CHECK(std::isfinite(best.upper_bound), "bbe_prior: no held-out labeled positive scores as high as any "
              "unlabeled image");
  return best;
}

}  // namespace selfsup::eval
