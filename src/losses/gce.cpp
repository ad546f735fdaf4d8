#include "selfsup/losses/gce.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace D = losses::detail;

namespace functional {

torch::Tensor generalized_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                        const GceOptions& options) {
  constexpr const char* kName = "generalized_cross_entropy";
  const double q = options.q();
  TORCH_CHECK(std::isfinite(q) && q > 0 && q <= 1, kName, ": q must be in (0, 1], got ", q);
  D::check_matrix(logits, kName, "logits", /*min_rows=*/1);
  D::check_per_sample(labels, logits.size(0), logits.device(), kName, "labels");
  TORCH_CHECK(labels.scalar_type() == torch::kLong, kName, ": labels must be int64, got ", labels.scalar_type());
  // p_y^q = exp(q log p_y) from log-softmax: no underflow of p_y to 0 for confident wrong logits.
  const auto log_py = torch::log_softmax(D::to_compute_dtype(logits), 1).gather(1, labels.unsqueeze(1)).squeeze(1);
  return ((1 - (q * log_py).exp()) / q).mean();
}

}  // namespace functional

namespace losses {

GeneralizedCrossEntropyImpl::GeneralizedCrossEntropyImpl(GceOptions options_) : options(options_) {}
void GeneralizedCrossEntropyImpl::reset() {}
void GeneralizedCrossEntropyImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::GeneralizedCrossEntropy(q=" << options.q() << ")";
}
torch::Tensor GeneralizedCrossEntropyImpl::forward(const torch::Tensor& logits, const torch::Tensor& labels) {
  return functional::generalized_cross_entropy(logits, labels, options);
}

}  // namespace losses
}  // namespace selfsup
