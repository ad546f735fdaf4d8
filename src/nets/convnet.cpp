#include "selfsup/nets/convnet.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/kernels.h"
#include "selfsup/nets/max_pool.h"

#include "common.h"

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

torch::Tensor ConvNetImpl::forward(torch::Tensor images) {
  detail::check_images(images, options.in_channels(), "ConvNet");
  const int64_t min_side = int64_t{1} << (options.channels().size() - 1);
  TORCH_CHECK(images.size(2) >= min_side && images.size(3) >= min_side, "ConvNet: images must be at least ",
              min_side, " pixels a side for ", options.channels().size(), " stages, got ", images.sizes());
  // The layers of `features` one by one, so that each BN - ReLU and the stage's max-pool after it
  // run as one op. Which kernels run them, and how the activations are stored in between, is
  // nets/kernels.h's choice for these images.
  const auto layout = kernels::activation_layout(images, is_training(), options.channels());
  kernels::Activation x{images};
  const auto layers = features->children();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (auto* conv = layers[i]->as<nn::Conv2dImpl>()) {
      x = kernels::conv3x3(x, conv->weight, layout);
    } else if (auto* bn = layers[i]->as<BatchNormImpl>()) {
      const bool pooled = i + 2 < layers.size() && layers[i + 2]->as<MaxPool2x2Impl>();
      x = bn->forward_activation(x, pooled);
      if (pooled) i += 2;  // past the Identity and the pool
    } else if (layers[i]->as<MaxPool2x2Impl>()) {
      x = kernels::max_pool2x2(x);
    } else {
      TORCH_CHECK(layers[i]->as<nn::IdentityImpl>(), "ConvNet: unexpected layer ", layers[i]->name());
    }
  }
  return kernels::global_mean(x);
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

std::vector<std::pair<std::string, int64_t>> ConvNetImpl::conv_positions(int64_t height, int64_t width) const {
  // The layout of `features`: per stage a max-pool (after the first), then conv, BN, Identity.
  std::vector<std::pair<std::string, int64_t>> out;
  int64_t index = 0;
  for (size_t s = 0; s < options.channels().size(); ++s) {
    if (s > 0) {
      height /= 2;
      width /= 2;
      ++index;
    }
    for (int64_t b = 0; b < options.blocks_per_stage(); ++b, index += 3) {
      out.emplace_back("features." + std::to_string(index), height * width);
    }
  }
  return out;
}

void ConvNetImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::ConvNet(in_channels=" << options.in_channels()
         << ", channels=" << detail::format_list(options.channels())
         << ", blocks_per_stage=" << options.blocks_per_stage() << ")";
}

}  // namespace selfsup::nets
