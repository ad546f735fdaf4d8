#pragma once
// Checks and arithmetic the backbones share (private to src/nets).
#include <torch/types.h>

#include <c10/util/StringUtil.h>

#include <string>
#include <vector>

namespace selfsup::nets::detail {

/// An image batch [B, in_channels, H, W] of a floating-point type.
inline void check_images(const torch::Tensor& x, int64_t in_channels, const char* who) {
  TORCH_CHECK(x.defined(), who, ": the input tensor is undefined");
  TORCH_CHECK(x.dim() == 4, who, ": expected images [B, C, H, W], got a tensor of shape ", x.sizes());
  TORCH_CHECK(x.size(1) == in_channels, who, ": expected ", in_channels,
              " input channels, got images of shape ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), who, ": expected floating-point images, got ", x.scalar_type());
}

inline std::string format_list(const std::vector<int64_t>& v) { return "[" + c10::Join(", ", v) + "]"; }

/// Output length of a convolution or pooling along one axis.
inline int64_t conv_out(int64_t n, int64_t kernel, int64_t stride, int64_t padding) {
  return (n + 2 * padding - kernel) / stride + 1;
}

}  // namespace selfsup::nets::detail
