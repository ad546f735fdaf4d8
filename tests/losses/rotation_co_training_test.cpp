// S4L's four rotations and Deep Co-Training's two terms.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/losses/deep_co_training.h"
#include "selfsup/losses/rotation.h"
#include "support/error_of.h"
#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

TEST(FourRotations, EachCopyIsItsQuarterTurnsExactly) {
  const auto x = T::randn64({3, 2, 5, 5}, 1);
  const auto r = F::four_rotations(x);
  ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{12, 2, 5, 5}));
  ASSERT_EQ(r.labels.sizes(), (std::vector<int64_t>{12}));
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t n = 0; n < 3; ++n) {
      EXPECT_EQ(r.labels[k * 3 + n].item<int64_t>(), k);
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t i = 0; i < 5; ++i)
          for (int64_t j = 0; j < 5; ++j) {
            // Turn (i, j) back k times: a counterclockwise quarter turn takes (i, j) to (4 - j, i),
            // so the output's (i, j) reads the input at (j, 4 - i).
            int64_t a = i, b = j;
            for (int64_t t = 0; t < k; ++t) {
              const int64_t na = b, nb = 4 - a;
              a = na, b = nb;
            }
            ASSERT_EQ(r.images[k * 3 + n][c][i][j].item<double>(), x[n][c][a][b].item<double>())
                << "k " << k << " (" << i << ", " << j << ")";
          }
    }
  // Four quarter turns are the identity; a half turn is two flips.
  EXPECT_TRUE(torch::equal(torch::rot90(r.images.slice(0, 9, 12), 1, {2, 3}), x));
  EXPECT_TRUE(torch::equal(r.images.slice(0, 6, 9), x.flip({2, 3})));
  EXPECT_NE(T::error_of([] { F::four_rotations(torch::zeros({1, 1, 4, 5})); }).find("square images"),
            std::string::npos);
}

TEST(RotationLoss, IsTheCrossEntropyOfTheTurns) {
  const auto logits = T::randn64({8, 4}, 2);
  const auto labels = torch::arange(4, torch::kLong).repeat_interleave(2);
  double ref = 0;
  for (int64_t i = 0; i < 8; ++i) {
    const auto row = T::to_rows(logits)[i];
    double z = 0;
    for (double v : row) z += std::exp(v);
    ref += std::log(z) - row[labels[i].item<int64_t>()];
  }
  EXPECT_NEAR(F::rotation_loss(logits, labels).item<double>(), ref / 8, 1e-12);
}

namespace {

double entropy_loop(const T::Row& p) {
  double h = 0;
  for (double v : p)
    if (v > 0) h -= v * std::log(v);
  return h;
}

}  // namespace

TEST(CoTrainingJs, MatchesALoopIsSymmetricBoundedAndZeroWhenTheyAgree) {
  const auto a = T::randn64({6, 5}, 3), b = T::randn64({6, 5}, 4);
  double ref = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const auto p = T::softmax(T::to_rows(a)[i]), q = T::softmax(T::to_rows(b)[i]);
    T::Row m(p.size());
    for (size_t c = 0; c < p.size(); ++c) m[c] = (p[c] + q[c]) / 2;
    ref += entropy_loop(m) - (entropy_loop(p) + entropy_loop(q)) / 2;
  }
  const double js = F::co_training_js(a, b).item<double>();
  EXPECT_NEAR(js, ref / 6, 1e-12);
  EXPECT_NEAR(F::co_training_js(b, a).item<double>(), js, 1e-15);
  EXPECT_NEAR(F::co_training_js(a, a).item<double>(), 0.0, 1e-12);
  // Two confident networks that disagree approach the bound ln 2.
  const auto one = torch::tensor({{60.0, 0.0}}, torch::kFloat64), other = torch::tensor({{0.0, 60.0}}, torch::kFloat64);
  EXPECT_NEAR(F::co_training_js(one, other).item<double>(), std::log(2.0), 1e-9);
  const auto r = T::gradcheck([&](const std::vector<torch::Tensor>& in) { return F::co_training_js(in[0], in[1]); },
                              {a.clone().requires_grad_(true), b.clone().requires_grad_(true)});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
  EXPECT_NE(T::error_of([&] { F::co_training_js(a, T::randn64({6, 4}, 1)); }).find("one shape"), std::string::npos);
}

TEST(CoTrainingViewDifference, MatchesALoopAndFiniteDifferences) {
  const auto l1 = T::randn64({4, 3}, 5), l2 = T::randn64({4, 3}, 6);
  const auto l1a = T::randn64({4, 3}, 7), l2a = T::randn64({4, 3}, 8);
  double ref = 0;
  for (int64_t i = 0; i < 4; ++i) {
    const auto p1 = T::softmax(T::to_rows(l1)[i]), p2 = T::softmax(T::to_rows(l2)[i]);
    const auto q1 = T::softmax(T::to_rows(l1a)[i]), q2 = T::softmax(T::to_rows(l2a)[i]);
    for (size_t c = 0; c < 3; ++c) ref -= p1[c] * std::log(q2[c]) + p2[c] * std::log(q1[c]);
  }
  EXPECT_NEAR(F::co_training_view_difference(l1, l2, l1a, l2a).item<double>(), ref / 4, 1e-12);
  const auto r = T::gradcheck(
      [&](const std::vector<torch::Tensor>& in) { return F::co_training_view_difference(in[0], in[1], in[2], in[3]); },
      {l1.clone().requires_grad_(true), l2.clone().requires_grad_(true), l1a.clone().requires_grad_(true),
       l2a.clone().requires_grad_(true)});
  EXPECT_TRUE(r.ok) << r.max_abs_error;
}
