#include "selfsup/losses/deep_co_training.h"

namespace selfsup::functional {
namespace {

void check_logits(const torch::Tensor& a, const torch::Tensor& b, const char* who) {
  TORCH_CHECK(a.dim() == 2 && a.size(0) >= 1 && a.sizes() == b.sizes(), who,
              ": expected two logits of one shape [N, C], got ", a.sizes(), " and ", b.sizes());
}

/// Entropy of each row of probabilities, 0 log 0 taken as 0.
torch::Tensor entropy(const torch::Tensor& p) { return -torch::xlogy(p, p).sum(1); }

}  // namespace

torch::Tensor co_training_js(const torch::Tensor& logits1, const torch::Tensor& logits2) {
  check_logits(logits1, logits2, "co_training_js");
  const auto p1 = torch::softmax(logits1, 1), p2 = torch::softmax(logits2, 1);
  return (entropy((p1 + p2) / 2) - (entropy(p1) + entropy(p2)) / 2).mean();
}

torch::Tensor co_training_view_difference(const torch::Tensor& logits1, const torch::Tensor& logits2,
                                          const torch::Tensor& logits1_on_adv2, const torch::Tensor& logits2_on_adv1) {
  check_logits(logits1, logits2, "co_training_view_difference");
  check_logits(logits1, logits1_on_adv2, "co_training_view_difference");
  check_logits(logits1, logits2_on_adv1, "co_training_view_difference");
  auto cross = [](const torch::Tensor& p_logits, const torch::Tensor& q_logits) {
    return -(torch::softmax(p_logits, 1) * torch::log_softmax(q_logits, 1)).sum(1);
  };
  return (cross(logits1, logits2_on_adv1) + cross(logits2, logits1_on_adv2)).mean();
}

}  // namespace selfsup::functional
