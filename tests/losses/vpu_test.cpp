#include "selfsup/losses/vpu.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

double phi_of(double g) { return 1.0 / (1.0 + std::exp(-g)); }

double variational_loop(const torch::Tensor& g_pos, const torch::Tensor& g_unl) {
  double mean_phi_u = 0, mean_log_phi_p = 0;
  for (int64_t i = 0; i < g_unl.size(0); ++i) mean_phi_u += phi_of(g_unl[i].item<double>());
  for (int64_t i = 0; i < g_pos.size(0); ++i) mean_log_phi_p += std::log(phi_of(g_pos[i].item<double>()));
  return std::log(mean_phi_u / static_cast<double>(g_unl.size(0))) - mean_log_phi_p / static_cast<double>(g_pos.size(0));
}

double mixup_loop(const torch::Tensor& g_mixed, const torch::Tensor& g_unl, double lam) {
  double total = 0;
  for (int64_t i = 0; i < g_mixed.size(0); ++i) {
    const double target = lam * phi_of(g_unl[i].item<double>()) + (1 - lam);
    const double d = std::log(target) - std::log(phi_of(g_mixed[i].item<double>()));
    total += d * d;
  }
  return total / static_cast<double>(g_mixed.size(0));
}

}  // namespace

TEST(Vpu, VariationalLossMatchesLoopReference) {
  const auto g_pos = T::randn64({11}, 1) * 2 + 1, g_unl = T::randn64({37}, 2) * 3;
  EXPECT_NEAR(T::value(F::vpu_variational_loss(g_pos, g_unl)), variational_loop(g_pos, g_unl), 1e-12);
  // Very negative scores: log space keeps what a plain mean of Phi would round away.
  const auto far = T::randn64({37}, 3) - 60;
  EXPECT_NEAR(T::value(F::vpu_variational_loss(g_pos, far)), variational_loop(g_pos, far), 1e-9);
}

TEST(Vpu, VariationalLossAnalyticCases) {
  // Phi = 1/2 everywhere: log(1/2) - log(1/2) = 0. It is scale-free: the bound does not move when
  // every Phi is multiplied by the same factor, which a common shift of large negative scores
  // (Phi ~ exp(g)) nearly does.
  const auto zeros = torch::zeros({6}, torch::kFloat64);
  EXPECT_NEAR(T::value(F::vpu_variational_loss(zeros, zeros)), 0.0, 1e-15);
  const auto p = T::randn64({5}, 4) - 40, u = T::randn64({9}, 5) - 40;
  EXPECT_NEAR(T::value(F::vpu_variational_loss(p - 3, u - 3)), T::value(F::vpu_variational_loss(p, u)), 1e-9);
  // By Jensen it is >= 0 when the labeled positives are the unlabeled images themselves.
  const auto same = T::randn64({20}, 6) * 2;
  EXPECT_GE(T::value(F::vpu_variational_loss(same, same)), 0.0);
}

TEST(Vpu, MixupRegularizerMatchesLoopReferenceAndItsEnds) {
  const auto g_mixed = T::randn64({12}, 7) * 2, g_unl = T::randn64({12}, 8) * 2;
  for (double lam : {0.0, 0.2, 0.5, 0.93, 1.0}) {
    EXPECT_NEAR(T::value(F::vpu_mixup_regularizer(g_mixed, g_unl, lam)), mixup_loop(g_mixed, g_unl, lam), 1e-12)
        << "lam " << lam;
  }
  // A mixed image scored exactly as its target asks for costs nothing: lam 1 keeps the unlabeled
  // image, whose own score is its target.
  EXPECT_NEAR(T::value(F::vpu_mixup_regularizer(g_unl, g_unl, 1.0)), 0.0, 1e-15);
}

TEST(Vpu, GradientsMatchFiniteDifferencesIncludingThroughTheTarget) {
  auto g_pos = T::randn64({5}, 9).requires_grad_(), g_unl = T::randn64({8}, 10).requires_grad_();
  const auto var = T::gradcheck([](const auto& in) { return F::vpu_variational_loss(in[0], in[1]); }, {g_pos, g_unl});
  EXPECT_TRUE(var.ok) << "max abs error " << var.max_abs_error;
  auto g_mixed = T::randn64({8}, 11).requires_grad_();
  for (double lam : {0.3, 1.0}) {
    const auto reg =
        T::gradcheck([&](const auto& in) { return F::vpu_mixup_regularizer(in[0], in[1], lam); }, {g_mixed, g_unl});
    EXPECT_TRUE(reg.ok) << "lam " << lam << ": max abs error " << reg.max_abs_error;
  }
  // The reference code does not detach the target: the unlabeled scores get a gradient.
  auto u = T::randn64({8}, 12).requires_grad_();
  F::vpu_mixup_regularizer(T::randn64({8}, 13), u, 0.4).backward();
  EXPECT_GT(u.grad().abs().sum().item<double>(), 0);
}

TEST(Vpu, BadArgumentsNameWhatIsWrong) {
  const auto a = T::randn64({4}, 14), b = T::randn64({5}, 15);
  T::expect_error_mentions([&] { F::vpu_mixup_regularizer(a, b, 0.5); }, {"vpu_mixup_regularizer", "same shape"});
  T::expect_error_mentions([&] { F::vpu_mixup_regularizer(a, a, 1.5); }, {"lam", "[0, 1]", "1.5"});
  T::expect_error_mentions([&] { F::vpu_variational_loss(a.view({2, 2}), b); }, {"vpu_variational_loss", "g_pos", "1-D"});
  T::expect_error_mentions([&] { F::vpu_variational_loss(a, b.slice(0, 0, 0)); }, {"g_unl", "N >= 1"});
}
