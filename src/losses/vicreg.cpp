#include "selfsup/losses/vicreg.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kVicReg = "vicreg_loss";
namespace D = losses::detail;

void check_vicreg_options(const losses::VICRegOptions& options) {
  D::check_non_negative(options.sim_weight(), kVicReg, "sim_weight");
  D::check_non_negative(options.var_weight(), kVicReg, "var_weight");
  D::check_non_negative(options.cov_weight(), kVicReg, "cov_weight");
  D::check_positive(options.eps(), kVicReg, "eps");
}

// The variance hinge V(z) and the covariance penalty C(z) of one view, sharing its centering.
std::pair<torch::Tensor, torch::Tensor> regularizers(const torch::Tensor& z, double eps) {
  const double unbiased = static_cast<double>(z.size(0) - 1);
  const torch::Tensor centered = z - z.mean(0, /*keepdim=*/true);
  const torch::Tensor var = centered.pow(2).sum(0) / unbiased;
  const torch::Tensor hinge = torch::relu(1.0 - (var + eps).sqrt()).mean();
  const torch::Tensor cov = centered.t().mm(centered) / unbiased;
  return {hinge, D::off_diagonal_square_sum(cov) / static_cast<double>(z.size(1))};
}

}  // namespace

namespace functional {

VICRegLossOutput vicreg_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                             const VICRegOptions& options) {
  D::check_views(z1, z2, kVicReg, "z1", "z2", /*min_rows=*/2);
  check_vicreg_options(options);
  const torch::Tensor a = D::to_compute_dtype(z1);
  const torch::Tensor b = D::to_compute_dtype(z2);
  const auto [var_a, cov_a] = regularizers(a, options.eps());
  const auto [var_b, cov_b] = regularizers(b, options.eps());
  VICRegLossOutput out;
  out.invariance = (a - b).pow(2).mean();
  out.variance = (var_a + var_b) / 2.0;
  out.covariance = cov_a + cov_b;
  out.loss = options.sim_weight() * out.invariance + options.var_weight() * out.variance +
             options.cov_weight() * out.covariance;
  return out;
}

}  // namespace functional

namespace losses {

VICRegLossImpl::VICRegLossImpl(VICRegOptions options_) : options(options_) { reset(); }

void VICRegLossImpl::reset() { check_vicreg_options(options); }

void VICRegLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::VICRegLoss(sim_weight=" << options.sim_weight()
         << ", var_weight=" << options.var_weight() << ", cov_weight=" << options.cov_weight()
         << ", eps=" << options.eps() << ")";
}

VICRegLossOutput VICRegLossImpl::forward(const torch::Tensor& z1, const torch::Tensor& z2) {
  return functional::vicreg_loss(z1, z2, options);
}

}  // namespace losses
}  // namespace selfsup
