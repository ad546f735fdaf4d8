#include "selfsup/losses/class_contrast.h"

#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/losses/nt_xent.h"
#include "selfsup/losses/supcon.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

// Literal definition over the 2N views v_0..v_{2N-1} (view k of image k mod N): an image's class
// is its confident argmax, else its own; an anchor's positives are the other views of its class.
double class_contrast_loops(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& logits,
                            double threshold, double tau) {
  const int64_t n = z1.size(0), c = logits.size(1);
  std::vector<int64_t> cls(n);
  const auto lg = logits.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY, sum = 0;
    int64_t arg = 0;
    for (int64_t j = 0; j < c; ++j) {
      if (lg[i][j] > mx) mx = lg[i][j], arg = j;
    }
    for (int64_t j = 0; j < c; ++j) sum += std::exp(lg[i][j] - mx);
    cls[i] = (1.0 / sum >= threshold) ? arg : c + i;
  }
  const T::Rows v = T::to_rows(torch::cat({z1, z2}));
  double total = 0;
  int anchors = 0;
  for (int64_t a = 0; a < 2 * n; ++a) {
    double denom = 0;
    for (int64_t b = 0; b < 2 * n; ++b) {
      if (b != a) denom += std::exp(T::cosine(v[a], v[b]) / tau);
    }
    double sum = 0;
    int positives = 0;
    for (int64_t p = 0; p < 2 * n; ++p) {
      if (p == a || cls[p % n] != cls[a % n]) continue;
      sum += T::cosine(v[a], v[p]) / tau - std::log(denom);
      ++positives;
    }
    total += -sum / positives;  // every anchor has its other view as a positive
    ++anchors;
  }
  return total / anchors;
}

// Logits whose softmax puts probability p on class k (the rest shared equally) over c classes.
torch::Tensor logits_with(double p, int64_t k, int64_t c) {
  auto row = torch::full({c}, std::log((1 - p) / static_cast<double>(c - 1)), torch::kFloat64);
  row[k] = std::log(p);
  return row;
}

}  // namespace

TEST(ClassContrast, LabelsAreConfidentArgmaxElseOwnClass) {
  const auto logits = torch::stack({logits_with(0.9, 2, 4), logits_with(0.5, 1, 4), logits_with(0.8, 0, 4),
                                    logits_with(0.79, 3, 4)});
  const auto labels = F::class_contrast_labels(logits, 0.8);
  EXPECT_TRUE(labels.equal(torch::tensor({2, 4 + 1, 0, 4 + 3}, torch::kLong))) << labels;
  // Threshold 0 keeps every argmax; 1 keeps none of these.
  EXPECT_TRUE(F::class_contrast_labels(logits, 0.0).equal(torch::tensor({2, 1, 0, 3}, torch::kLong)));
  EXPECT_TRUE(F::class_contrast_labels(logits, 1.0).equal(torch::arange(4, 8, torch::kLong)));
}

TEST(ClassContrast, MatchesLoopReference) {
  const auto z1 = T::randn64({6, 5}, 1), z2 = T::randn64({6, 5}, 2);
  const auto logits = 3 * T::randn64({6, 3}, 3);
  for (double threshold : {0.0, 0.6, 0.9}) {
    for (double tau : {0.1, 0.5}) {
      EXPECT_NEAR(T::value(F::class_contrast_loss(z1, z2, logits,
                                                  F::ClassContrastOptions().threshold(threshold).temperature(tau))),
                  class_contrast_loops(z1, z2, logits, threshold, tau), 1e-10)
          << "threshold " << threshold << " tau " << tau;
    }
  }
}

TEST(ClassContrast, NothingConfidentIsNTXent) {
  const auto z1 = T::randn64({5, 4}, 4), z2 = T::randn64({5, 4}, 5);
  const auto logits = T::randn64({5, 10}, 6) * 0.1;  // max prob ~0.1 < 0.8
  EXPECT_NEAR(T::value(F::class_contrast_loss(z1, z2, logits, F::ClassContrastOptions().temperature(0.3))),
              T::value(F::nt_xent(z1, z2, F::NTXentOptions().temperature(0.3))), 1e-12);
}

TEST(ClassContrast, ClosedFormWhenAllConfidentInOneClass) {
  // Every view equal: all cosines are 1, so each anchor's log-softmax over the 2N - 1 others is
  // -log(2N - 1) and all of them are positives.
  const int64_t n = 3;
  const auto z = torch::ones({n, 2}, torch::kFloat64);
  const auto logits = torch::stack({logits_with(0.99, 1, 3), logits_with(0.95, 1, 3), logits_with(0.9, 1, 3)});
  EXPECT_NEAR(T::value(F::class_contrast_loss(z, z, logits)), std::log(2.0 * n - 1), 1e-12);
}

TEST(ClassContrast, SymmetricInTheViewsAndDetachedFromTheTargets) {
  const auto z1 = T::randn64({6, 4}, 7), z2 = T::randn64({6, 4}, 8);
  auto logits = (3 * T::randn64({6, 3}, 9)).requires_grad_();
  const auto a = F::class_contrast_loss(z1, z2, logits), b = F::class_contrast_loss(z2, z1, logits);
  EXPECT_NEAR(T::value(a), T::value(b), 1e-12);
  EXPECT_FALSE(a.requires_grad());  // the targets carry no gradient
}

TEST(ClassContrast, GradientMatchesFiniteDifferences) {
  auto z1 = T::randn64({5, 4}, 10).requires_grad_();
  auto z2 = T::randn64({5, 4}, 11).requires_grad_();
  const auto logits = 3 * T::randn64({5, 3}, 12);
  const auto r = T::gradcheck(
      [&](const auto& in) { return F::class_contrast_loss(in[0], in[1], logits, F::ClassContrastOptions().threshold(0.5)); },
      {z1, z2});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(ClassContrast, RejectsBadArguments) {
  const auto z = T::randn64({4, 3}, 13);
  const auto logits = T::randn64({4, 5}, 14);
  T::expect_error_mentions(
      [&] { F::class_contrast_loss(z, z, logits, F::ClassContrastOptions().temperature(-0.2)); },
      {"class_contrast_loss", "temperature", "-0.2"});
  T::expect_error_mentions(
      [&] { F::class_contrast_loss(z, z, logits, F::ClassContrastOptions().threshold(1.5)); },
      {"threshold", "1.5"});
  T::expect_error_mentions([&] { F::class_contrast_loss(z, z, logits.narrow(0, 0, 3)); },
                           {"target_logits", "[3, 5]"});
  T::expect_error_mentions([&] { F::class_contrast_loss(z, z.narrow(0, 0, 3), logits); }, {"z1", "z2"});
}
