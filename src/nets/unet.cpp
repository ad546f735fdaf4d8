#include "selfsup/nets/unet.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "common.h"

namespace selfsup::nets {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)); }

/// The channels of the decoder's convolutions, in the order of UNetImpl::decoder.
std::vector<std::pair<int64_t, int64_t>> decoder_channels(const UNetOptions& o) {
  const int64_t w = o.width();
  std::vector<std::pair<int64_t, int64_t>> c;
  for (int64_t l = o.depth() - 1; l >= 1; --l) {
    c.emplace_back((l == o.depth() - 1 ? w : 2 * w) + w, 2 * w);
    c.emplace_back(2 * w, 2 * w);
  }
  const int64_t f1 = (4 * w + 2) / 3, f2 = (2 * w + 2) / 3;  // 64 and 32 at the papers' width 48
  c.emplace_back((o.depth() == 1 ? w : 2 * w) + o.in_channels(), f1);
  c.emplace_back(f1, f2);
  c.emplace_back(f2, o.out_channels());
  return c;
}

}  // namespace

UNetImpl::UNetImpl(UNetOptions options_) : options(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() > 0 && o.out_channels() > 0, "UNet: channels must be positive, got in_channels ",
              o.in_channels(), " and out_channels ", o.out_channels());
  TORCH_CHECK(o.width() > 0, "UNet: width must be positive, got ", o.width());
  TORCH_CHECK(o.depth() >= 1 && o.depth() <= 8, "UNet: depth must be in [1, 8], got ", o.depth());
  TORCH_CHECK(o.negative_slope() >= 0, "UNet: negative_slope must be >= 0, got ", o.negative_slope());
  encoder = register_module("encoder", nn::ModuleList());
  encoder->push_back(conv3x3(o.in_channels(), o.width()));
  for (int64_t i = 0; i < o.depth() + 1; ++i) encoder->push_back(conv3x3(o.width(), o.width()));
  decoder = register_module("decoder", nn::ModuleList());
  for (const auto& [in, out] : decoder_channels(o)) decoder->push_back(conv3x3(in, out));
  // He initialisation for the LeakyReLU, as the papers' code uses.
  for (auto& p : named_parameters()) {
    if (p.key().find("weight") != std::string::npos) {
      nn::init::kaiming_normal_(p.value(), o.negative_slope(), torch::kFanIn, torch::kLeakyReLU);
    } else {
      nn::init::zeros_(p.value());
    }
  }
}

torch::Tensor UNetImpl::forward(const torch::Tensor& input) {
  detail::check_images(input, options.in_channels(), "UNet");
  const int64_t h = input.size(2), w = input.size(3), m = min_size();
  TORCH_CHECK(h >= m && w >= m, "UNet: an image of ", h, "x", w, " is smaller than the network's smallest input, ", m,
              "x", m, " (depth ", options.depth(), ")");
  const int64_t ph = (m - h % m) % m, pw = (m - w % m) % m;
  auto x = ph || pw ? torch::reflection_pad2d(input, {0, pw, 0, ph}) : input;
  const double slope = options.negative_slope();
  auto act = [slope](const torch::Tensor& t) { return torch::leaky_relu(t, slope); };
  auto conv = [](nn::ModuleList& list, size_t i, const torch::Tensor& t) {
    return list->ptr<nn::Conv2dImpl>(i)->forward(t);
  };
  const int64_t depth = options.depth();
  std::vector<torch::Tensor> skips{x};
  auto e = act(conv(encoder, 0, x));
  for (int64_t l = 1; l <= depth; ++l) {
    e = torch::max_pool2d(act(conv(encoder, l, e)), 2);
    if (l < depth) skips.push_back(e);
  }
  auto d = act(conv(encoder, depth + 1, e));
  size_t k = 0;
  for (int64_t l = depth - 1; l >= 0; --l) {
    d = torch::cat({torch::upsample_nearest2d(d, {d.size(2) * 2, d.size(3) * 2}), skips[l]}, 1);
    d = act(conv(decoder, k++, d));
    d = act(conv(decoder, k++, d));
  }
  d = conv(decoder, k, d);
  if (ph || pw) d = d.slice(2, 0, h).slice(3, 0, w);
  return d;
}

int64_t UNetImpl::receptive_field() const {
  // Input intervals (one axis) that reach one output pixel, followed back through the layers:
  // a 3x3 convolution widens by one pixel each side, a 2x2 pooling maps [a, b] to [2a, 2b + 1],
  // nearest upsampling [a, b] to [a / 2, b / 2], and a concatenation joins its two branches. How
  // far the poolings' and upsamplings' rounding reaches depends on where the pixel sits relative
  // to the 2^depth grid, so every phase is tried.
  using Span = std::pair<int64_t, int64_t>;
  const int64_t depth = options.depth();
  auto join = [](Span a, Span b) { return Span{std::min(a.first, b.first), std::max(a.second, b.second)}; };
  auto widen = [](Span s, int64_t k) { return Span{s.first - k, s.second + k}; };
  // p_l = pool(conv(p_{l-1})), p_0 = conv0(x): the input span of a span of p_l.
  std::function<Span(int64_t, Span)> encoder_input = [&](int64_t level, Span s) -> Span {
    if (level == 0) return widen(s, 1);
    return encoder_input(level - 1, widen({2 * s.first, 2 * s.second + 1}, 1));
  };
  // The decoder's output at `level` (after its convolutions): the input span of a span of it.
  std::function<Span(int64_t, Span)> decoder_input = [&](int64_t level, Span s) -> Span {
    if (level == depth) return encoder_input(depth, widen(s, 1));  // the bottom convolution
    const Span before = widen(s, 2);                                 // its two convolutions
    const Span skip = level == 0 ? before : encoder_input(level, before);
    return join(skip, decoder_input(level + 1, {before.first / 2, before.second / 2}));
  };
  int64_t rf = 0;
  const int64_t origin = int64_t{1} << 20;  // keeps every index positive, so / rounds down
  for (int64_t phase = 0; phase < (int64_t{1} << depth); ++phase) {
    const int64_t p = origin + phase;
    const Span s = decoder_input(0, widen({p, p}, 1));  // the last, linear convolution
    rf = std::max(rf, s.second - s.first + 1);
  }
  return rf;
}

double UNetImpl::forward_macs(int64_t height, int64_t width) const {
  const int64_t m = min_size();
  const int64_t h = (height + m - 1) / m * m, w = (width + m - 1) / m * m;
  auto at = [&](int64_t level) { return static_cast<double>(h >> level) * static_cast<double>(w >> level) * 9; };
  const int64_t c = options.width(), depth = options.depth();
  double macs = at(0) * static_cast<double>(options.in_channels() * c);
  for (int64_t l = 1; l <= depth; ++l) macs += at(l - 1) * static_cast<double>(c * c);
  macs += at(depth) * static_cast<double>(c * c);
  const auto dec = decoder_channels(options);
  size_t k = 0;
  for (int64_t l = depth - 1; l >= 1; --l, k += 2) {
    macs += at(l) * static_cast<double>(dec[k].first * dec[k].second + dec[k + 1].first * dec[k + 1].second);
  }
  for (; k < dec.size(); ++k) macs += at(0) * static_cast<double>(dec[k].first * dec[k].second);
  return macs;
}

}  // namespace selfsup::nets
