#include "selfsup/losses/neighbor2neighbor.h"

#include <cmath>

namespace selfsup::functional {

NeighborPairs neighbor_pairs(int64_t n, int64_t height, int64_t width, torch::Generator& gen) {
  TORCH_CHECK(n > 0 && height >= 2 && width >= 2 && height % 2 == 0 && width % 2 == 0,
              "neighbor_pairs: expected even height and width >= 2, got ", n, " images of ", height, "x", width);
  // The 8 ordered pairs of horizontally or vertically adjacent pixels of a 2x2 cell.
  static const int64_t kPairs[8][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {1, 0}, {2, 0}, {3, 1}, {3, 2}};
  const auto table = torch::from_blob(const_cast<int64_t*>(&kPairs[0][0]), {8, 2}, torch::kInt64);
  const auto k = torch::randint(0, 8, {n, height / 2, width / 2}, gen, torch::kInt64);
  const auto chosen = table.index_select(0, k.flatten()).view({n, height / 2, width / 2, 2});
  return {chosen.select(3, 0).contiguous(), chosen.select(3, 1).contiguous()};
}

torch::Tensor subsample(const torch::Tensor& x, const torch::Tensor& which) {
  TORCH_CHECK(x.dim() == 4 && x.size(2) % 2 == 0 && x.size(3) % 2 == 0,
              "subsample: expected images [N, C, H, W] of even height and width, got ", x.sizes());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2) / 2, w = x.size(3) / 2;
  TORCH_CHECK(which.dim() == 3 && which.size(0) == n && which.size(1) == h && which.size(2) == w,
              "subsample: expected cell choices [", n, ", ", h, ", ", w, "], got ", which.sizes());
  // [N, C, h, 2, w, 2] -> [N, C, h, w, 4]: the last axis is the cell's pixel in row-major order.
  const auto cells = x.view({n, c, h, 2, w, 2}).permute({0, 1, 2, 4, 3, 5}).reshape({n, c, h, w, 4});
  const auto index = which.to(x.device()).view({n, 1, h, w, 1}).expand({n, c, h, w, 1});
  return cells.gather(4, index).squeeze(4);
}

Neighbor2NeighborLoss neighbor2neighbor_loss(const torch::Tensor& denoised_first, const torch::Tensor& noisy_second,
                                            const torch::Tensor& first_of_denoised,
                                            const torch::Tensor& second_of_denoised, double gamma) {
  TORCH_CHECK(std::isfinite(gamma) && gamma >= 0, "neighbor2neighbor_loss: gamma must be >= 0, got ", gamma);
  const auto& s = denoised_first.sizes();
  TORCH_CHECK(noisy_second.sizes() == s && first_of_denoised.sizes() == s && second_of_denoised.sizes() == s,
              "neighbor2neighbor_loss: the four images must have one shape, got ", s, ", ", noisy_second.sizes(), ", ",
              first_of_denoised.sizes(), " and ", second_of_denoised.sizes());
  const auto diff = denoised_first - noisy_second;
  const auto reconstruction = diff.pow(2).mean();
  const auto regularization = (diff - (first_of_denoised - second_of_denoised)).pow(2).mean();
  return {reconstruction + gamma * regularization, reconstruction, regularization};
}

}  // namespace selfsup::functional
