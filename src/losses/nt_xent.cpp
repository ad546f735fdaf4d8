#include "selfsup/losses/nt_xent.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {
constexpr const char* kNtXent = "nt_xent";
void check_nt_xent_options(const losses::NTXentOptions& options) {
  losses::detail::check_positive(options.temperature(), kNtXent, "temperature");
}
}  // namespace

namespace functional {

torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2,
                      const NTXentOptions& options) {
  losses::detail::check_views(z1, z2, kNtXent, "z1", "z2", /*min_rows=*/1);
  check_nt_xent_options(options);
  const int64_t n = z1.size(0);
  const torch::Tensor logits =
      losses::detail::self_excluded_logits(torch::cat({z1, z2}, 0), options.temperature());
  // In the stacked batch the other view of anchor a sits N rows away.
  const torch::Tensor anchors =
      torch::arange(2 * n, torch::TensorOptions().dtype(torch::kLong).device(z1.device()));
  return torch::nn::functional::cross_entropy(logits, (anchors + n) % (2 * n));
}

}  // namespace functional

namespace losses {

NTXentLossImpl::NTXentLossImpl(NTXentOptions options_) : options(options_) { reset(); }

void NTXentLossImpl::reset() { check_nt_xent_options(options); }

void NTXentLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::NTXentLoss(temperature=" << options.temperature() << ")";
}

torch::Tensor NTXentLossImpl::forward(const torch::Tensor& z1, const torch::Tensor& z2) {
  return functional::nt_xent(z1, z2, options);
}

}  // namespace losses
}  // namespace selfsup
