#include "selfsup/losses/masked_mean.h"

#include "selfsup/dist/dist.h"

#include "selfsup/losses/common.h"

namespace selfsup::functional {

MaskedMean parse_masked_mean(const std::string& name, const std::string& what) {
  if (name == "batch") return MaskedMean::kBatch;
  if (name == "accepted") return MaskedMean::kAccepted;
  TORCH_CHECK(false, what, " must be 'batch' or 'accepted', got '", name, "'");
}

const char* masked_mean_name(MaskedMean mean) {
  return mean == MaskedMean::kBatch ? "batch" : "accepted";
}

torch::Tensor masked_mean(const torch::Tensor& per_sample, const torch::Tensor& mask,
                          MaskedMean mean) {
  constexpr const char* kName = "masked_mean";
  TORCH_CHECK(per_sample.defined() && per_sample.dim() == 1 && per_sample.size(0) >= 1, kName,
              ": per_sample must be a 1-D tensor with at least one entry, got ",
              per_sample.defined() ? per_sample.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(per_sample.is_floating_point(), kName,
              ": per_sample must be floating-point, got dtype ", per_sample.scalar_type());
  losses::detail::check_per_sample(mask, per_sample.size(0), per_sample.device(), kName, "mask");
  const torch::Tensor m = mask.detach().to(per_sample.scalar_type());
  // masked_fill, not a product alone: a rejected sample with an infinite loss (a -inf logit)
  // must contribute 0, and 0 * inf is NaN.
  const torch::Tensor total = (per_sample.masked_fill(m == 0, 0) * m).sum();
  if (mean == MaskedMean::kBatch) return total / static_cast<double>(per_sample.size(0));
  // Nothing accepted: divide the 0 by 1 (a zero loss with a zero gradient), no host sync.
  torch::Tensor accepted = m.sum();
  // With several processes each holds a share of the batch: dividing by the global count over
  // the number of ranks makes the averaged gradients those of one process with the whole batch.
  if (dist::is_distributed()) accepted = dist::all_reduce_sum(accepted) / static_cast<double>(dist::world_size());
  return total / torch::where(accepted > 0, accepted, torch::ones_like(accepted));
}

}  // namespace selfsup::functional
