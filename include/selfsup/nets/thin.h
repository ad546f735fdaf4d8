#pragma once
// Thinning: a network whose convolutions have filters that are exactly zero (group lasso over
// filters, then thresholding) rebuilt without them. Each zero filter goes with its batch-norm
// entries and the matching input channel of the next layer (or input column of the linear head
// reading the features), so the thinned network is smaller and needs fewer multiply-adds.
//
// What a removed channel carried: its convolution gives 0, so after batch norm and ReLU it is the
// constant k = relu(bias - running_mean * weight / sqrt(running_var + eps)) in evaluation. k = 0
// (a ReLU that was off) loses nothing. For the last layer, whose features are averaged, k times
// the head's column is folded into the head's bias: exact. For a layer followed by another
// convolution, the constant plane's response is folded into that layer's batch-norm running mean:
// exact away from the zero-padded border. Outputs in evaluation are therefore unchanged when every
// removed channel of an inner layer has k = 0, and close otherwise (fine-tune after thinning).
#include <torch/torch.h>

#include <string>
#include <vector>

#include "selfsup/nets/backbone.h"

namespace selfsup::nets {

struct ThinResult {
  Backbone backbone;                       // the thinned network, a new module
  torch::nn::Linear head{nullptr};         // the head with the kept input columns (null without one)
  std::vector<std::vector<int64_t>> kept;  // per convolution, in order, the filters kept
  /// The kept widths: per stage of a ConvNet (its model.channels), per block of a ResNet (its
  /// model.mid_widths).
  std::vector<int64_t> widths;
  /// The config key that describes the thinned network: model.channels or model.mid_widths.
  std::string widths_key;
};

/// Removes the zero filters of a ConvNet (blocks_per_stage 1), or of the first convolution of
/// every ResNet block (the block outputs are tied by the residual sums and stay); `head` (may be
/// null) is a linear layer on the features, returned as a new module. A layer whose filters are
/// all zero keeps one, so the network stays valid. The inputs are not modified.
ThinResult thin(const BackboneImpl& backbone, const torch::nn::Linear& head);

}  // namespace selfsup::nets
