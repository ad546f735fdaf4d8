#include "selfsup/losses/pseudo_label.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

namespace D = losses::detail;

void check_threshold(double tau, const char* fn) {
  TORCH_CHECK(std::isfinite(tau) && tau >= 0 && tau <= 1, fn,
              ": threshold must be in [0, 1], got ", tau);
}

void check_pseudo_label_options(const losses::PseudoLabelOptions& options) {
  check_threshold(options.threshold(), "pseudo_label_loss");
}

}  // namespace

namespace functional {

PseudoLabels hard_pseudo_labels(const torch::Tensor& logits, const torch::Tensor& thresholds) {
  constexpr const char* kName = "hard_pseudo_labels";
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  const int64_t c = logits.size(1);
  TORCH_CHECK(thresholds.defined() &&
                  (thresholds.dim() == 0 || (thresholds.dim() == 1 && thresholds.size(0) == c)),
              kName, ": thresholds must be a 0-d tensor or have shape [", c,
              "] (one per class), got ",
              thresholds.defined() ? thresholds.sizes() : torch::IntArrayRef{});
  torch::NoGradGuard no_grad;
  const torch::Tensor tau = thresholds.detach().to(logits.device(), torch::kFloat64);
  TORCH_CHECK(((tau >= 0) & (tau <= 1)).all().item<bool>(), kName,
              ": thresholds must be in [0, 1], got ", thresholds);
  const torch::Tensor probs = torch::softmax(D::to_compute_dtype(logits.detach()), 1);
  auto [confidence, labels] = probs.max(1);
  const torch::Tensor tau_i =
      (tau.dim() == 0 ? tau.expand({logits.size(0)}) : tau.index_select(0, labels))
          .to(confidence.scalar_type());
  return {labels, confidence, (confidence >= tau_i).to(confidence.scalar_type())};
}

PseudoLabels hard_pseudo_labels(const torch::Tensor& logits, double threshold) {
  check_threshold(threshold, "hard_pseudo_labels");
  return hard_pseudo_labels(logits, torch::tensor(threshold, torch::kFloat64));
}

torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                   const torch::Tensor& mask, MaskedMean mean) {
  constexpr const char* kName = "masked_cross_entropy";
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  D::check_per_sample(labels, logits.size(0), logits.device(), kName, "labels");
  TORCH_CHECK(labels.scalar_type() == torch::kLong, kName, ": labels must be int64, got dtype ",
              labels.scalar_type());
  D::check_per_sample(mask, logits.size(0), logits.device(), kName, "mask");
  namespace F = torch::nn::functional;
  const torch::Tensor per_sample =
      F::cross_entropy(D::to_compute_dtype(logits), labels,
                       F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return masked_mean(per_sample, mask, mean);
}

PseudoLabelLossOutput pseudo_label_loss(const torch::Tensor& logits,
                                        const torch::Tensor& target_logits,
                                        const PseudoLabelOptions& options) {
  constexpr const char* kName = "pseudo_label_loss";
  check_pseudo_label_options(options);
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  D::check_matrix(target_logits, kName, "target_logits", /*min_rows=*/1);
  TORCH_CHECK(logits.sizes() == target_logits.sizes(), kName,
              ": logits and target_logits must have the same shape, got ", logits.sizes(),
              " and ", target_logits.sizes());
  PseudoLabels pseudo = hard_pseudo_labels(target_logits, options.threshold());
  torch::Tensor loss = masked_cross_entropy(logits, pseudo.labels.to(logits.device()),
                                            pseudo.mask.to(logits.device()),
                                            options.masked_mean());
  return {loss, pseudo};
}

}  // namespace functional

namespace losses {

PseudoLabelLossImpl::PseudoLabelLossImpl(PseudoLabelOptions options_) : options(options_) {
  reset();
}

void PseudoLabelLossImpl::reset() { check_pseudo_label_options(options); }

void PseudoLabelLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::PseudoLabelLoss(threshold=" << options.threshold()
         << ", masked_mean=" << functional::masked_mean_name(options.masked_mean()) << ")";
}

PseudoLabelLossOutput PseudoLabelLossImpl::forward(const torch::Tensor& logits,
                                                   const torch::Tensor& target_logits) {
  return functional::pseudo_label_loss(logits, target_logits, options);
}

}  // namespace losses
}  // namespace selfsup
