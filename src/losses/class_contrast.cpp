#include "selfsup/losses/class_contrast.h"

#include "selfsup/losses/common.h"
#include "selfsup/losses/supcon.h"

namespace selfsup::functional {
namespace {
constexpr const char* kClassContrast = "class_contrast_loss";
namespace D = losses::detail;
}  // namespace

torch::Tensor class_contrast_labels(const torch::Tensor& target_logits, double threshold) {
  D::check_matrix(target_logits, kClassContrast, "target_logits", /*min_rows=*/1);
  TORCH_CHECK(threshold >= 0 && threshold <= 1, kClassContrast, ": threshold must be in [0, 1], got ", threshold);
  torch::NoGradGuard no_grad;
  const auto probs = torch::softmax(D::to_compute_dtype(target_logits.detach()), 1);
  const auto [confidence, labels] = probs.max(1);
  const int64_t n = target_logits.size(0), classes = target_logits.size(1);
  const auto singletons = torch::arange(classes, classes + n, labels.options());
  return torch::where(confidence >= threshold, labels, singletons);
}

torch::Tensor class_contrast_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                                  const torch::Tensor& target_logits, const ClassContrastOptions& options) {
  D::check_views(z1, z2, kClassContrast, "z1", "z2", /*min_rows=*/1);
  D::check_positive(options.temperature(), kClassContrast, "temperature");
  D::check_matrix(target_logits, kClassContrast, "target_logits", /*min_rows=*/1);
  TORCH_CHECK(target_logits.size(0) == z1.size(0), kClassContrast, ": target_logits must have one row per sample (",
              z1.size(0), "), got shape ", target_logits.sizes());
  const auto labels = class_contrast_labels(target_logits, options.threshold()).to(z1.device());
  return supcon_loss(torch::stack({D::to_compute_dtype(z1), D::to_compute_dtype(z2)}, 1), labels,
                     SupConOptions().temperature(options.temperature()));
}

}  // namespace selfsup::functional
