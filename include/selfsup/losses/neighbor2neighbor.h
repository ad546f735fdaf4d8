#pragma once
// Neighbor2Neighbor (Huang et al. 2021): a denoiser trained from single noisy images. Each 2x2
// cell of the noisy image y gives one pixel to g1(y) and a horizontally or vertically adjacent one
// to g2(y), the ordered pair drawn uniformly from the cell's 8 (as the paper's code draws it), so
// g1(y) and g2(y) are two half-size images of nearly the same scene with independent noise. The
// loss is
//
//   ||f(g1(y)) - g2(y)||^2  +  gamma ||f(g1(y)) - g2(y) - (g1(f(y)) - g2(f(y)))||^2
//
// (each a mean over pixels), f(y) computed without gradient: the second term corrects for the
// two sub-images not showing exactly the same pixels. gamma ramps linearly from 0 to its final
// value over training in the paper's code.
#include <torch/torch.h>

namespace selfsup::losses {

/// The pixels g1 and g2 take from each 2x2 cell: int64 [N, H/2, W/2] (CPU), 0..3 in row-major
/// order within the cell (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
struct NeighborPairs {
  torch::Tensor first;
  torch::Tensor second;
};

struct Neighbor2NeighborLoss {
  torch::Tensor loss;            ///< reconstruction + gamma * regularization
  torch::Tensor reconstruction;  ///< mean (f(g1 y) - g2 y)^2
  torch::Tensor regularization;  ///< mean (f(g1 y) - g2 y - (g1 f(y) - g2 f(y)))^2
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::NeighborPairs;
using losses::Neighbor2NeighborLoss;

/// One ordered pair of adjacent pixels per 2x2 cell of N images of height x width (both even),
/// drawn from the CPU generator gen.
NeighborPairs neighbor_pairs(int64_t n, int64_t height, int64_t width, torch::Generator& gen);

/// x [N, C, H, W] -> [N, C, H/2, W/2]: the pixel `which` [N, H/2, W/2] names in every cell.
torch::Tensor subsample(const torch::Tensor& x, const torch::Tensor& which);

/// The loss from f(g1(y)), g2(y), g1(f(y)) and g2(f(y)) (all [N, C, H/2, W/2]; the last two
/// without gradient) and gamma >= 0.
Neighbor2NeighborLoss neighbor2neighbor_loss(const torch::Tensor& denoised_first, const torch::Tensor& noisy_second,
                                            const torch::Tensor& first_of_denoised,
                                            const torch::Tensor& second_of_denoised, double gamma);

}  // namespace selfsup::functional
