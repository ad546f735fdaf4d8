#include "selfsup/losses/simsiam.h"

#include "selfsup/losses/common.h"

namespace selfsup {

namespace functional {

torch::Tensor simsiam_loss(const torch::Tensor& p, const torch::Tensor& z) {
  losses::detail::check_views(p, z, "simsiam_loss", "p", "z", /*min_rows=*/1);
  return -losses::detail::row_cosine(p, z.detach()).mean();
}

}  // namespace functional

namespace losses {

void SimSiamLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::SimSiamLoss()";
}

torch::Tensor SimSiamLossImpl::forward(const torch::Tensor& p, const torch::Tensor& z) {
  return functional::simsiam_loss(p, z);
}

}  // namespace losses
}  // namespace selfsup
