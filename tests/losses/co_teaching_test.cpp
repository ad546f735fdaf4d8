#include "selfsup/losses/co_teaching.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

std::vector<double> ct_ce_loops(const torch::Tensor& logits, const torch::Tensor& labels) {
  const T::Rows l = T::to_rows(logits);
  std::vector<double> out;
  for (size_t i = 0; i < l.size(); ++i) out.push_back(-std::log(T::softmax(l[i])[labels[i].item<int64_t>()]));
  return out;
}

// The k ct_smallest entries' indices by a plain sort of (loss, index) pairs.
std::set<int64_t> ct_smallest(const std::vector<double>& v, size_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  return {idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k)};
}

std::set<int64_t> ct_set(const torch::Tensor& t) {
  std::set<int64_t> s;
  for (int64_t i = 0; i < t.numel(); ++i) s.insert(t[i].item<int64_t>());
  return s;
}

}  // namespace

TEST(CoTeaching, ForgetRateRampsLinearlyToTau) {
  EXPECT_DOUBLE_EQ(F::co_teaching_forget_rate(0, 0.5, 10), 0.0);
  EXPECT_DOUBLE_EQ(F::co_teaching_forget_rate(2.5, 0.5, 10), 0.125);
  EXPECT_DOUBLE_EQ(F::co_teaching_forget_rate(10, 0.5, 10), 0.5);
  EXPECT_DOUBLE_EQ(F::co_teaching_forget_rate(37, 0.5, 10), 0.5);
  EXPECT_DOUBLE_EQ(F::co_teaching_forget_rate(0, 0.45, 0), 0.45) << "no ramp: tau from the start";
}

// The exchange keeps exactly floor((1 - forget_rate) N) examples, the ones of ct_smallest loss.
TEST(CoTeaching, SelectionKeepsTheSmallLossFractionTheScheduleSays) {
  for (int64_t n : {1, 7, 64, 128}) {
    const auto loss = T::uniform64({n}, 0, 3, static_cast<uint64_t>(n));
    std::vector<double> v(loss.data_ptr<double>(), loss.data_ptr<double>() + n);
    for (double epoch : {0.0, 1.0, 4.0, 10.0, 20.0}) {
      const double r = F::co_teaching_forget_rate(epoch, 0.5, 10);
      const auto sel = F::small_loss_selection(loss, r);
      const auto keep = std::max<int64_t>(1, static_cast<int64_t>(std::floor((1 - r) * n + 1e-9)));
      ASSERT_EQ(sel.numel(), keep) << "N " << n << " rate " << r;
      EXPECT_EQ(ct_set(sel), ct_smallest(v, static_cast<size_t>(keep))) << "N " << n << " rate " << r;
    }
  }
  // Ties go to the lower index.
  const auto tied = torch::tensor({1.0, 0.5, 0.5, 0.5, 2.0}, torch::kFloat64);
  EXPECT_EQ(ct_set(F::small_loss_selection(tied, 0.6)), (std::set<int64_t>{1, 2}));
}

// Each network is scored on the other's selection: loss_a is the mean CE of a over b's small-loss
// examples, and a's gradient reaches those rows only.
TEST(CoTeaching, EachNetworkTrainsOnThePeersSelection) {
  const auto y = T::random_labels(20, 5, 1);
  auto a = (T::randn64({20, 5}, 2) * 2).requires_grad_();
  auto b = (T::randn64({20, 5}, 3) * 2).requires_grad_();
  const auto out = F::co_teaching_loss(a, b, y, F::CoTeachingOptions().forget_rate(0.3));
  const auto ca = ct_ce_loops(a, y), cb = ct_ce_loops(b, y);
  EXPECT_EQ(ct_set(out.selected_a), ct_smallest(ca, 14));
  EXPECT_EQ(ct_set(out.selected_b), ct_smallest(cb, 14));
  double want_a = 0, want_b = 0;
  for (int64_t i : ct_set(out.selected_b)) want_a += ca[i] / 14;
  for (int64_t i : ct_set(out.selected_a)) want_b += cb[i] / 14;
  EXPECT_NEAR(T::value(out.loss_a), want_a, 1e-12);
  EXPECT_NEAR(T::value(out.loss_b), want_b, 1e-12);
  out.loss_a.backward();
  EXPECT_FALSE(b.grad().defined() && b.grad().abs().sum().item<double>() > 0) << "loss_a must not reach network b";
  const auto rows = a.grad().abs().sum(1);
  const auto chosen = ct_set(out.selected_b);
  for (int64_t i = 0; i < 20; ++i) {
    if (chosen.count(i)) {
      EXPECT_GT(rows[i].item<double>(), 0) << "row " << i;
    } else {
      EXPECT_EQ(rows[i].item<double>(), 0) << "row " << i << " is not in b's selection";
    }
  }
  // Swapping the networks swaps the losses (the exchange is symmetric).
  const auto swapped = F::co_teaching_loss(b.detach(), a.detach(), y, F::CoTeachingOptions().forget_rate(0.3));
  EXPECT_NEAR(T::value(swapped.loss_a), T::value(out.loss_b), 1e-12);
}

TEST(CoTeaching, GradientMatchesFiniteDifferences) {
  const auto y = T::random_labels(9, 4, 4);
  const auto a = T::randn64({9, 4}, 5) * 2, b = T::randn64({9, 4}, 6) * 2;
  // The selection is piecewise constant: with well-separated losses the small steps of the check
  // never change it.
  const auto r = T::gradcheck(
      [&](const std::vector<torch::Tensor>& in) {
        auto out = F::co_teaching_loss(in[0], in[1], y, F::CoTeachingOptions().forget_rate(0.34));
        return out.loss_a + 2 * out.loss_b;
      },
      {a.clone().requires_grad_(), b.clone().requires_grad_()});
  EXPECT_TRUE(r.ok) << "max abs error " << r.max_abs_error;
}

TEST(CoTeaching, BadArgumentsAreNamed) {
  const auto y = T::random_labels(4, 3, 7);
  const auto a = T::randn64({4, 3}, 8);
  for (double r : {-0.1, 1.0, std::nan("")}) {
    T::expect_error_mentions([&] { F::co_teaching_loss(a, a, y, F::CoTeachingOptions().forget_rate(r)); },
                             {"forget_rate must be in [0, 1)"});
    T::expect_error_mentions([&] { F::co_teaching_forget_rate(1, r, 10); }, {"forget_rate"});
  }
  T::expect_error_mentions([&] { F::co_teaching_forget_rate(1, 0.2, -1); }, {"ramp_epochs must be >= 0"});
  T::expect_error_mentions([&] { F::co_teaching_loss(a, T::randn64({4, 2}, 9), y); }, {"logits_b"});
  T::expect_error_mentions([&] { F::small_loss_selection(torch::zeros({0}), 0.1); }, {"non-empty"});
}
