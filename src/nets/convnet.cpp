#include "selfsup/nets/convnet.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/max_pool.h"
#include "selfsup/nets/conv3x3.h"
#include "selfsup/nets/stem_conv.h"

#include "common.h"
#include "cpu/kernel_util.h"

#include <algorithm>

namespace selfsup::nets {

namespace nn = torch::nn;

ConvNetImpl::ConvNetImpl(ConvNetOptions options_) : BackboneBase(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() > 0, "ConvNet: in_channels must be positive, got ", o.in_channels());
  TORCH_CHECK(!o.channels().empty(), "ConvNet: channels must list at least one stage width");
  for (auto c : o.channels()) {
    TORCH_CHECK(c > 0, "ConvNet: every stage width must be positive, got channels ",
                detail::format_list(o.channels()));
  }
  TORCH_CHECK(o.blocks_per_stage() >= 1, "ConvNet: blocks_per_stage must be >= 1, got ",
              o.blocks_per_stage());

  features = nn::Sequential();
  int64_t in = o.in_channels();
  for (size_t s = 0; s < o.channels().size(); ++s) {
    if (s > 0) features->push_back(MaxPool2x2());
    for (int64_t b = 0; b < o.blocks_per_stage(); ++b) {
      const int64_t out = o.channels()[s];
      // No conv bias: the BN that follows would cancel it.
      features->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
      // The ReLU runs fused inside the BN; the Identity keeps the layer indices (and so the
      // parameter names of checkpoints) those of conv - BN - ReLU.
      features->push_back(BatchNorm(BatchNormOptions(out).relu(true)));
      features->push_back(nn::Identity());
      in = out;
    }
  }
  register_module("features", features);
  init_kaiming(*this);
}

torch::Tensor ConvNetImpl::forward(torch::Tensor x) {
  detail::check_images(x, options.in_channels(), "ConvNet");
  const int64_t min_side = int64_t{1} << (options.channels().size() - 1);
  TORCH_CHECK(x.size(2) >= min_side && x.size(3) >= min_side, "ConvNet: images must be at least ",
              min_side, " pixels a side for ", options.channels().size(), " stages, got ", x.sizes());
  // The layers of `features` one by one, so that each BN - ReLU followed by the stage's max-pool
  // runs as one fused op (BatchNorm::forward_pooled). In training on a CPU in float32, past the
  // first layer the activations stay in oneDNN's blocked layout (layout.h), which its Winograd
  // convolutions and the fused BN kernels all read and write: no reorders between layers.
  const bool blocked = is_training() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
                       !nets::detail::autocast_on() && functional::conv3x3_uses_onednn() &&
                       std::all_of(options.channels().begin(), options.channels().end(),
                                   [](int64_t c) { return c % 16 == 0; });
  auto layout = functional::Layout::kNCHW;
  const auto layers = features->children();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (auto* bn = layers[i]->as<BatchNormImpl>()) {
      const bool pooled = i + 2 < layers.size() && layers[i + 2]->as<MaxPool2x2Impl>();
      if (layout == functional::Layout::kBlocked16) {
        x = bn->forward_blocked16(x, pooled);
      } else {
        x = pooled ? bn->forward_pooled(x) : bn->forward(x);
      }
      if (pooled) i += 2;  // past the Identity and the pool
    } else if (auto* conv = layers[i]->as<nn::Conv2dImpl>()) {
      if (conv->options.in_channels() == 1) {
        // A grayscale first layer: our kernel (oneDNN's is slow with one input channel).
        layout = blocked ? functional::Layout::kBlocked16 : functional::Layout::kNCHW;
        x = functional::stem_conv3x3(x, conv->weight, layout);
      } else {
        // oneDNN's Winograd kernels, reordering each operand at most once (conv3x3.h).
        const auto out = blocked ? functional::Layout::kBlocked16 : functional::Layout::kNCHW;
        x = functional::conv3x3(x, conv->weight, functional::Conv3x3FuncOptions().src_layout(layout).dst_layout(out));
        layout = out;
      }
    } else if (auto* pool = layers[i]->as<MaxPool2x2Impl>()) {
      if (layout == functional::Layout::kBlocked16) {  // not built so, but a pool takes NCHW
        x = functional::from_blocked16(x);
        layout = functional::Layout::kNCHW;
      }
      x = pool->forward(x);
    } else {
      TORCH_CHECK(layers[i]->as<nn::IdentityImpl>(), "ConvNet: unexpected layer ", layers[i]->name());
    }
  }
  if (layout == functional::Layout::kBlocked16) return x.mean({2, 3}).reshape({x.size(0), -1});  // [N, C / 16, 16]
  return x.mean({2, 3});
}

double ConvNetImpl::forward_flops(int64_t height, int64_t width) const {
  double macs = 0;
  int64_t in = options.in_channels();
  for (size_t s = 0; s < options.channels().size(); ++s) {
    if (s > 0) {
      height /= 2;
      width /= 2;
    }
    const int64_t out = options.channels()[s];
    for (int64_t b = 0; b < options.blocks_per_stage(); ++b) {
      macs += static_cast<double>(height * width) * in * out * 9;
      in = out;
    }
  }
  return macs;
}

void ConvNetImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::ConvNet(in_channels=" << options.in_channels()
         << ", channels=" << detail::format_list(options.channels())
         << ", blocks_per_stage=" << options.blocks_per_stage() << ")";
}

}  // namespace selfsup::nets
