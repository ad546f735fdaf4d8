#include "selfsup/losses/co_teaching.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace D = losses::detail;

namespace functional {
namespace {

void check_forget_rate(double r, const char* fn) {
  TORCH_CHECK(std::isfinite(r) && r >= 0 && r < 1, fn, ": forget_rate must be in [0, 1), got ", r);
}

}  // namespace

double co_teaching_forget_rate(double epoch, double tau, double ramp_epochs) {
  check_forget_rate(tau, "co_teaching_forget_rate");
  TORCH_CHECK(std::isfinite(ramp_epochs) && ramp_epochs >= 0,
              "co_teaching_forget_rate: ramp_epochs must be >= 0, got ", ramp_epochs);
  TORCH_CHECK(std::isfinite(epoch) && epoch >= 0, "co_teaching_forget_rate: epoch must be >= 0, got ", epoch);
  if (ramp_epochs == 0) return tau;
  return tau * std::min(epoch / ramp_epochs, 1.0);
}

torch::Tensor small_loss_selection(const torch::Tensor& losses, double forget_rate) {
  constexpr const char* kName = "small_loss_selection";
  check_forget_rate(forget_rate, kName);
  TORCH_CHECK(losses.defined() && losses.dim() == 1 && losses.numel() > 0, kName,
              ": losses must be a non-empty 1-D tensor, got ", losses.defined() ? losses.sizes() : torch::IntArrayRef{});
  const int64_t n = losses.numel();
  const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::floor((1 - forget_rate) * n + 1e-9)));
  // A stable sort: equal losses keep the lower index, on every device.
  const auto order = std::get<1>(losses.detach().sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  return order.slice(0, 0, keep);
}

CoTeachingOutput co_teaching_loss(const torch::Tensor& logits_a, const torch::Tensor& logits_b,
                                  const torch::Tensor& labels, const CoTeachingOptions& options) {
  constexpr const char* kName = "co_teaching_loss";
  D::check_views(logits_a, logits_b, kName, "logits_a", "logits_b", /*min_rows=*/1);
  D::check_per_sample(labels, logits_a.size(0), logits_a.device(), kName, "labels");
  TORCH_CHECK(labels.scalar_type() == torch::kLong, kName, ": labels must be int64, got ", labels.scalar_type());
  namespace nnf = torch::nn::functional;
  const auto none = nnf::CrossEntropyFuncOptions().reduction(torch::kNone);
  const auto ce_a = nnf::cross_entropy(D::to_compute_dtype(logits_a), labels, none);
  const auto ce_b = nnf::cross_entropy(D::to_compute_dtype(logits_b), labels, none);
  auto sel_a = small_loss_selection(ce_a, options.forget_rate());
  auto sel_b = small_loss_selection(ce_b, options.forget_rate());
  return {ce_a.index_select(0, sel_b).mean(), ce_b.index_select(0, sel_a).mean(), sel_a, sel_b};
}

}  // namespace functional
}  // namespace selfsup
