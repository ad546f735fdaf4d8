#pragma once
// RandAugment as FixMatch / USB use it: each sample gets `n` ops drawn uniformly with replacement,
// each with its own magnitude drawn uniformly (no fixed global magnitude).
#include <string>
#include <vector>

#include "selfsup/augment/transforms.h"

namespace selfsup::augment {

struct RandAugmentOptions {
  static constexpr const char* op_name = "randaugment";
  /// Ops applied to each sample, one after the other.
  TORCH_ARG(int64_t, n) = 2;
  /// Each op's magnitude m is drawn uniformly from this sub-range of [0, 1] and mapped linearly
  /// onto the op's own range (below); [0, 1] reproduces USB's FixMatch RandAugment.
  TORCH_ARG(Range, magnitude) = Range{0.0, 1.0};
  /// Names from randaugment_op_names(); empty means all of them.
  TORCH_ARG(std::vector<std::string>, ops) = {};
  /// Value of the pixels that geometric ops move in from outside (PIL's default: black).
  TORCH_ARG(double, fill) = 0.0;
};

/// All op names with their value ranges (USB's fixmatch augment_list):
///   identity, autocontrast, equalize, rotate [-30, 30] degrees, solarize threshold [0, 1],
///   color [0.05, 0.95], posterize [4, 8] bits, contrast [0.05, 0.95], brightness [0.05, 0.95],
///   sharpness [0.05, 0.95], shear_x / shear_y [-0.3, 0.3], translate_x / translate_y [-0.3, 0.3]
///   of the side. Factors below 1 mean PIL ImageEnhance blends toward the degenerate image.
/// Geometric ops sample the nearest pixel, as PIL's default. `equalize` is computed on the image
/// quantized to 256 levels (see functional::equalize).
const std::vector<std::string>& randaugment_op_names();

void validate(const RandAugmentOptions& o);

namespace functional {
torch::Tensor randaugment(const torch::Tensor& x, const RandAugmentOptions& o,
                          torch::Generator& gen, bool inplace = false);
}  // namespace functional

using RandAugment = FunctionalTransform<RandAugmentOptions, &functional::randaugment>;

}  // namespace selfsup::augment
