#include "selfsup/nets/resnet.h"

#include <cmath>

#include "common.h"

namespace selfsup::nets {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

std::vector<int64_t> blocks_for_depth(int64_t depth) {
  TORCH_CHECK(depth == 18 || depth == 34, "ResNet: depth must be 18 or 34, got ", depth);
  return depth == 18 ? std::vector<int64_t>{2, 2, 2, 2} : std::vector<int64_t>{3, 4, 6, 3};
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(BasicBlockOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(options.in_planes() > 0 && options.planes() > 0,
              "BasicBlock: in_planes and planes must be positive, got ", options.in_planes(), " and ",
              options.planes());
  TORCH_CHECK(options.stride() >= 1, "BasicBlock: stride must be >= 1, got ", options.stride());
  TORCH_CHECK(options.mid_planes() >= 0, "BasicBlock: mid_planes must be >= 0, got ", options.mid_planes());
  reset();
}

void BasicBlockImpl::reset() {
  const auto& o = options;
  const int64_t mid = o.mid_planes() > 0 ? o.mid_planes() : o.planes();
  conv1 = register_module("conv1", conv(o.in_planes(), mid, 3, o.stride()));
  bn1 = register_module("bn1", BatchNorm(mid));
  conv2 = register_module("conv2", conv(mid, o.planes(), 3, 1));
  bn2 = register_module("bn2", BatchNorm(o.planes()));
  if (o.stride() != 1 || o.in_planes() != o.planes()) {
    downsample = register_module(
        "downsample", nn::Sequential(conv(o.in_planes(), o.planes(), 1, o.stride()), BatchNorm(o.planes())));
  } else {
    downsample = nullptr;
  }
  init_kaiming(*this);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = bn1->forward(conv1->forward(x)).relu_();
  out = bn2->forward(conv2->forward(out));
  out += downsample ? downsample->forward(x) : x;
  return out.relu_();
}

double BasicBlockImpl::forward_flops(int64_t& height, int64_t& width) const {
  const auto& o = options;
  const int64_t h = detail::conv_out(height, 3, o.stride(), 1);
  const int64_t w = detail::conv_out(width, 3, o.stride(), 1);
  const int64_t mid = o.mid_planes() > 0 ? o.mid_planes() : o.planes();
  double macs = static_cast<double>(h * w) * mid * 9 * (o.in_planes() + o.planes());
  if (downsample) macs += static_cast<double>(h * w) * o.in_planes() * o.planes();
  height = h;
  width = w;
  return macs;
}

ResNetImpl::ResNetImpl(ResNetOptions options_) : BackboneBase(std::move(options_)) {
  const auto& o = options;
  const auto blocks = blocks_for_depth(o.depth());
  TORCH_CHECK(o.in_channels() > 0, "ResNet: in_channels must be positive, got ", o.in_channels());
  TORCH_CHECK(o.width() > 0 && std::isfinite(o.width()), "ResNet: width must be positive, got ", o.width());
  const int64_t base = std::max<int64_t>(1, std::lround(64 * o.width()));

  conv1 = register_module("conv1", o.cifar_stem() ? conv(o.in_channels(), base, 3, 1)
                                                  : conv(o.in_channels(), base, 7, 2));
  bn1 = register_module("bn1", BatchNorm(base));
  int64_t in = base;
  int64_t total_blocks = 0;
  for (auto b : blocks) total_blocks += b;
  TORCH_CHECK(o.mid_widths().empty() || static_cast<int64_t>(o.mid_widths().size()) == total_blocks,
              "ResNet: mid_widths must give one width per block (", total_blocks, "), got ",
              detail::format_list(o.mid_widths()));
  for (auto m : o.mid_widths()) {
    TORCH_CHECK(m > 0, "ResNet: every mid width must be positive, got ", detail::format_list(o.mid_widths()));
  }
  size_t block_index = 0;
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    const int64_t planes = base << stage;
    nn::Sequential layer;
    for (int64_t b = 0; b < blocks[stage]; ++b, ++block_index) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      const int64_t mid = o.mid_widths().empty() ? 0 : o.mid_widths()[block_index];
      layer->push_back(BasicBlock(BasicBlockOptions(in, planes).stride(stride).mid_planes(mid)));
      in = planes;
    }
    layers.push_back(register_module("layer" + std::to_string(stage + 1), layer));
  }
  feature_dim_ = in;

  init_kaiming(*conv1);  // the blocks initialise themselves
  if (o.zero_init_residual()) {
    torch::NoGradGuard no_grad;
    for (auto& layer : layers) {
      for (auto& block : layer->children()) block->as<BasicBlockImpl>()->bn2->weight.zero_();
    }
  }
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  detail::check_images(x, options.in_channels(), "ResNet");
  x = bn1->forward(conv1->forward(x)).relu_();
  if (!options.cifar_stem()) x = torch::max_pool2d(x, 3, 2, 1);
  for (auto& layer : layers) x = layer->forward(x);
  return x.mean({2, 3});
}

double ResNetImpl::forward_flops(int64_t height, int64_t width) const {
  const int64_t base = conv1->options.out_channels();
  double macs = 0;
  if (options.cifar_stem()) {
    macs += static_cast<double>(height * width) * options.in_channels() * base * 9;
  } else {
    height = detail::conv_out(height, 7, 2, 3);
    width = detail::conv_out(width, 7, 2, 3);
    macs += static_cast<double>(height * width) * options.in_channels() * base * 49;
    height = detail::conv_out(height, 3, 2, 1);
    width = detail::conv_out(width, 3, 2, 1);
  }
  for (const auto& layer : layers) {
    for (const auto& block : layer->children()) {
      macs += block->as<BasicBlockImpl>()->forward_flops(height, width);
    }
  }
  return macs;
}

std::vector<std::pair<std::string, int64_t>> ResNetImpl::conv_positions(int64_t height, int64_t width) const {
  std::vector<std::pair<std::string, int64_t>> out;
  if (options.cifar_stem()) {
    out.emplace_back("conv1", height * width);
  } else {
    height = detail::conv_out(height, 7, 2, 3);
    width = detail::conv_out(width, 7, 2, 3);
    out.emplace_back("conv1", height * width);
    height = detail::conv_out(height, 3, 2, 1);
    width = detail::conv_out(width, 3, 2, 1);
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto blocks = layers[l]->children();
    for (size_t b = 0; b < blocks.size(); ++b) {
      const auto& o = blocks[b]->as<BasicBlockImpl>()->options;
      height = detail::conv_out(height, 3, o.stride(), 1);
      width = detail::conv_out(width, 3, o.stride(), 1);
      const std::string prefix = "layer" + std::to_string(l + 1) + "." + std::to_string(b) + ".";
      out.emplace_back(prefix + "conv1", height * width);
      out.emplace_back(prefix + "conv2", height * width);
      if (blocks[b]->as<BasicBlockImpl>()->downsample) out.emplace_back(prefix + "downsample.0", height * width);
    }
  }
  return out;
}

void ResNetImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::ResNet" << options.depth() << "(in_channels=" << options.in_channels()
         << ", width=" << options.width() << ", cifar_stem=" << std::boolalpha << options.cifar_stem()
         << ", zero_init_residual=" << options.zero_init_residual() << ")";
}

}  // namespace selfsup::nets
