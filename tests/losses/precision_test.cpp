// The precision policy shared by every loss: reduced-precision inputs are computed (and returned)
// in float32, float32 and float64 inputs stay in their own dtype.
#include <gtest/gtest.h>

#include "selfsup/losses/all.h"
#include "support/loss_testing.h"

namespace F = selfsup::functional;
namespace T = selfsup::testing;

namespace {

using Loss = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

std::vector<std::pair<std::string, Loss>> all_losses() {
  const auto labels = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, torch::kLong);
  return {
      {"nt_xent", [](const auto& a, const auto& b) { return F::nt_xent(a, b); }},
      {"info_nce", [](const auto& a, const auto& b) { return F::info_nce(a, b, b.flip(0)); }},
      {"info_nce_in_batch",
       [](const auto& a, const auto& b) { return F::info_nce_in_batch(a, b); }},
      {"byol_loss", [](const auto& a, const auto& b) { return F::byol_loss(a, b); }},
      {"simsiam_loss", [](const auto& a, const auto& b) { return F::simsiam_loss(a, b); }},
      {"barlow_twins_loss",
       [](const auto& a, const auto& b) { return F::barlow_twins_loss(a, b); }},
      {"vicreg_loss", [](const auto& a, const auto& b) { return F::vicreg_loss(a, b).loss; }},
      {"supcon_loss",
       [labels](const auto& a, const auto& b) {
         return F::supcon_loss(torch::cat({a, b}), labels);
       }},
      {"pseudo_label_loss",
       [](const auto& a, const auto& b) {
         return F::pseudo_label_loss(a, b, F::PseudoLabelOptions().threshold(0)).loss;
       }},
      {"uda_loss",
       [](const auto& a, const auto& b) {
         return F::uda_loss(a, b, F::UDAOptions().threshold(0)).loss;
       }},
      {"softmax_mse_loss",
       [](const auto& a, const auto& b) {
         return F::softmax_mse_loss(a, torch::softmax(b.to(torch::kFloat64), 1));
       }},
      {"kl_div_from_logits",
       [](const auto& a, const auto& b) { return F::kl_div_from_logits(a, b); }},
  };
}

}  // namespace

TEST(LossPrecision, ReducedPrecisionIsComputedInFloat32) {
  const auto z1 = T::randn64({6, 8}, 1), z2 = T::randn64({6, 8}, 2);
  for (auto dtype : {torch::kBFloat16, torch::kHalf}) {
    const auto a = z1.to(dtype), b = z2.to(dtype);
    for (const auto& [name, loss] : all_losses()) {
      const auto low = loss(a, b);
      EXPECT_EQ(low.scalar_type(), torch::kFloat32) << name;
      // The same rounded inputs in float64: only float32 rounding may differ.
      const double exact = T::value(loss(a.to(torch::kFloat64), b.to(torch::kFloat64)));
      EXPECT_NEAR(T::value(low), exact, 1e-5 * std::max(1.0, std::abs(exact))) << name;
    }
  }
}

TEST(LossPrecision, FullPrecisionKeepsItsDtype) {
  const auto z1 = T::randn64({6, 8}, 3), z2 = T::randn64({6, 8}, 4);
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (const auto& [name, loss] : all_losses()) {
      EXPECT_EQ(loss(z1.to(dtype), z2.to(dtype)).scalar_type(), dtype) << name;
    }
  }
}
