#include "selfsup/losses/rotation.h"

namespace selfsup::functional {

Rotations four_rotations(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(2) == x.size(3), "four_rotations: expected square images [N, C, H, H], got ",
              x.sizes());
  std::vector<torch::Tensor> turned{x};
  for (int64_t k = 1; k < 4; ++k) turned.push_back(torch::rot90(x, k, {2, 3}));
  const auto labels = torch::arange(4, torch::TensorOptions().dtype(torch::kLong).device(x.device()))
                          .repeat_interleave(x.size(0));
  return {torch::cat(turned), labels};
}

torch::Tensor rotation_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(1) == 4, "rotation_loss: expected logits [4N, 4], got ", logits.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "rotation_loss: expected ", logits.size(0),
              " labels, got ", labels.sizes());
  return torch::nn::functional::cross_entropy(logits, labels);
}

}  // namespace selfsup::functional
