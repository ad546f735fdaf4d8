#include "selfsup/losses/byol.h"

#include "selfsup/losses/common.h"

namespace selfsup {

namespace functional {

torch::Tensor byol_loss(const torch::Tensor& p, const torch::Tensor& z) {
  losses::detail::check_views(p, z, "byol_loss", "p", "z", /*min_rows=*/1);
  return 2.0 - 2.0 * losses::detail::row_cosine(p, z.detach()).mean();
}

}  // namespace functional

namespace losses {

void BYOLLossImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::BYOLLoss()";
}

torch::Tensor BYOLLossImpl::forward(const torch::Tensor& p, const torch::Tensor& z) {
  return functional::byol_loss(p, z);
}

}  // namespace losses
}  // namespace selfsup
