#include "selfsup/losses/barlow_twins.h"

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kBarlowTwins = "barlow_twins_loss";
namespace D = losses::detail;

void check_barlow_twins_options(const losses::BarlowTwinsOptions& options) {
  D::check_non_negative(options.lambda(), kBarlowTwins, "lambda");
  D::check_positive(options.scale(), kBarlowTwins, "scale");
  D::check_positive(options.eps(), kBarlowTwins, "eps");
}

// BatchNorm1d(affine=false) in training mode: biased batch variance, eps inside the root.
torch::Tensor batch_standardize(const torch::Tensor& z, double eps) {
  const torch::Tensor centered = z - z.mean(0, /*keepdim=*/true);
  return centered / (centered.pow(2).mean(0, /*keepdim=*/true) + eps).sqrt();
}

}  // namespace

namespace functional {

torch::Tensor barlow_twins_loss(const torch::Tensor& z1, const torch::Tensor& z2,
                                const BarlowTwinsOptions& options) {
  D::check_views(z1, z2, kBarlowTwins, "z1", "z2", /*min_rows=*/2);
  check_barlow_twins_options(options);
  const torch::Tensor a = batch_standardize(D::to_compute_dtype(z1), options.eps());
  const torch::Tensor b = batch_standardize(D::to_compute_dtype(z2), options.eps());
  const torch::Tensor c = a.t().mm(b) / static_cast<double>(z1.size(0));
  const torch::Tensor on_diagonal = (1.0 - c.diagonal()).pow(2).sum();
  return (on_diagonal + options.lambda() * D::off_diagonal_square_sum(c)) * options.scale();
}

}  // namespace functional

namespace losses {

BarlowTwinsLossImpl::BarlowTwinsLossImpl(BarlowTwinsOptions options_) : options(options_) {
  reset();
}

void BarlowTwinsLossImpl::reset() { check_barlow_twins_options(options); }

void BarlowTwinsLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::BarlowTwinsLoss(lambda=" << options.lambda()
         << ", scale=" << options.scale() << ", eps=" << options.eps() << ")";
}

torch::Tensor BarlowTwinsLossImpl::forward(const torch::Tensor& z1, const torch::Tensor& z2) {
  return functional::barlow_twins_loss(z1, z2, options);
}

}  // namespace losses
}  // namespace selfsup
