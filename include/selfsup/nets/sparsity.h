#pragma once
// How sparse a model's layers are: per convolution or linear layer, the filters, input channels,
// 2-D kernels and parameters that are exactly zero, and the multiply-accumulates of one image:
// all of them, those of the nonzero kernels, and those left after thinning.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

struct LayerSparsity {
  std::string name;             // as in the checkpoint, without ".weight"
  std::vector<int64_t> shape;   // the weight's
  int64_t filters = 0, zero_filters = 0;    // output filters (rows of a linear layer)
  int64_t channels = 0, zero_channels = 0;  // input channels (columns of a linear layer)
  int64_t kernels = 0, zero_kernels = 0;    // 2-D kernels (out x in); a linear weight's entries
  int64_t params = 0, zero_params = 0;
  /// Multiply-accumulates for one image, and those of the nonzero kernels only; both 0 when the
  /// layer's output size is unknown.
  double macs = 0, macs_nonzero = 0;
  /// Those of the layer once the backbone is thinned (nets/thin.h: zero filters removed with the
  /// next layer's inputs), where it can be; else macs_nonzero.
  double macs_after = 0;
};

struct SparsityReport {
  std::vector<LayerSparsity> layers;
  /// The sums over the layers (name "total", no shape).
  LayerSparsity total() const;
  /// {"layers": [...], "total": {...}}, each with the counts above and the fractions zeroed.
  nlohmann::json to_json() const;
  /// One line per layer and the total, for the terminal.
  std::string table() const;
};

/// Every trained weight (requires_grad) of >= 2 dimensions in `model` (convolutions and linear layers).
/// MACs: for the convolutions of `backbone` (found inside `model`; may be null) from its
/// conv_positions for a height x width image; for linear layers outside it, one position.
SparsityReport sparsity_report(const torch::nn::Module& model, const BackboneImpl* backbone, int64_t height,
                               int64_t width);

}  // namespace selfsup::nets
