#include "selfsup/losses/triplet.h"

#include <limits>

namespace selfsup::functional {

torch::Tensor batch_hard_triplet_loss(const torch::Tensor& e, const torch::Tensor& groups) {
  TORCH_CHECK(e.dim() == 2 && e.size(0) >= 2, "batch_hard_triplet_loss: expected embeddings [N, D] with N >= 2, got ",
              e.sizes());
  TORCH_CHECK(groups.dim() == 1 && groups.size(0) == e.size(0), "batch_hard_triplet_loss: expected ", e.size(0),
              " group ids, got ", groups.sizes());
  const auto same = groups.unsqueeze(0).eq(groups.unsqueeze(1));
  const auto eye = torch::eye(e.size(0), same.options());
  const auto positive = same.logical_and(eye.logical_not()), negative = same.logical_not();
  TORCH_CHECK(positive.any(1).all().item<bool>(), "batch_hard_triplet_loss: every group needs two rows or more");
  TORCH_CHECK(negative.any().item<bool>(), "batch_hard_triplet_loss: needs two groups or more");
  // float32 at least: under bf16 autocast the distances of near rows would round to zero.
  const auto x = e.scalar_type() == torch::kFloat64 ? e : e.to(torch::kFloat32);
  const auto sq = x.pow(2).sum(1);
  const auto d = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * torch::mm(x, x.t())).clamp_min(1e-12).sqrt();
  const double inf = std::numeric_limits<double>::infinity();
  const auto hardest_positive = d.masked_fill(positive.logical_not(), -inf).amax(1);
  const auto hardest_negative = d.masked_fill(negative.logical_not(), inf).amin(1);
  return torch::nn::functional::softplus(hardest_positive - hardest_negative).mean();
}

}  // namespace selfsup::functional
