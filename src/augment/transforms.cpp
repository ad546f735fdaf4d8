// Random transforms: parameters drawn per sample on the CPU generator, applied to the batch at once.
#include "selfsup/augment/transforms.h"

#include <algorithm>
#include <cmath>

#include "common.h"
#include "selfsup/augment/functional.h"

namespace selfsup::augment {

using detail::apply_to_subset;
using detail::bernoulli_mask;
using detail::check_batch;
using detail::check_probability;
using detail::per_sample;
using detail::uniform;
using torch::Tensor;

namespace {
void check_range(const Range& r, double lo, double hi, const char* op, const char* arg) {
  TORCH_CHECK(r[0] >= lo && r[0] <= r[1] && r[1] <= hi, op, ": ", arg,
              " must be an increasing pair in [", lo, ", ", hi, "], got [", r[0], ", ", r[1], "]");
}
}  // namespace

void validate(const RandomResizedCropOptions& o) {
  const char* op = RandomResizedCropOptions::op_name;
  TORCH_CHECK((*o.size())[0] > 0 && (*o.size())[1] > 0, op, ": size must be positive, got ",
              o.size());
  check_range(o.scale(), 1e-12, 1.0, op, "scale");
  check_range(o.ratio(), 1e-12, INFINITY, op, "ratio");
}

void validate(const RandomCropOptions& o) {
  const char* op = RandomCropOptions::op_name;
  TORCH_CHECK(o.size() >= 0, op, ": size must be >= 0 (0 = the input's), got ", o.size());
  TORCH_CHECK(o.padding() >= -1, op, ": padding must be >= 0 (or -1 = side / 8), got ",
              o.padding());
  TORCH_CHECK(o.padding_mode() == "reflect" || o.padding_mode() == "edge" ||
                  o.padding_mode() == "constant",
              op, ": padding_mode must be reflect, edge or constant, got '", o.padding_mode(), "'");
}

void validate(const HorizontalFlipOptions& o) { check_probability(o.p(), HorizontalFlipOptions::op_name); }

void validate(const ColorJitterOptions& o) {
  const char* op = ColorJitterOptions::op_name;
  TORCH_CHECK(o.brightness() >= 0, op, ": brightness must be >= 0, got ", o.brightness());
  TORCH_CHECK(o.contrast() >= 0, op, ": contrast must be >= 0, got ", o.contrast());
  TORCH_CHECK(o.saturation() >= 0, op, ": saturation must be >= 0, got ", o.saturation());
  TORCH_CHECK(o.hue() >= 0 && o.hue() <= 0.5, op, ": hue must be in [0, 0.5], got ", o.hue());
  check_probability(o.p(), op);
}

void validate(const RandomGrayscaleOptions& o) { check_probability(o.p(), RandomGrayscaleOptions::op_name); }

void validate(const GaussianBlurOptions& o) {
  const char* op = GaussianBlurOptions::op_name;
  TORCH_CHECK(o.kernel_size() > 0 && o.kernel_size() % 2 == 1, op,
              ": kernel_size must be odd and positive, got ", o.kernel_size());
  check_range(o.sigma(), 1e-12, INFINITY, op, "sigma");
  check_probability(o.p(), op);
}

void validate(const SolarizeOptions& o) {
  const char* op = SolarizeOptions::op_name;
  TORCH_CHECK(o.threshold() >= 0 && o.threshold() <= 1, op, ": threshold must be in [0, 1], got ",
              o.threshold());
  check_probability(o.p(), op);
}

void validate(const CutoutOptions& o) {
  const char* op = CutoutOptions::op_name;
  TORCH_CHECK(o.size() >= 0 && o.size() <= 1, op, ": size must be in [0, 1], got ", o.size());
  TORCH_CHECK(o.min_size() < 0 || o.min_size() <= o.size(), op,
              ": min_size must be <= size (or negative for a fixed size), got ", o.min_size());
  check_probability(o.p(), op);
}

void validate(const NormalizeOptions& o) {
  const char* op = NormalizeOptions::op_name;
  TORCH_CHECK(!o.mean().empty() && o.mean().size() == o.std().size(), op,
              ": mean and std must be non-empty and of equal length, got ", o.mean().size(), " and ",
              o.std().size());
  for (double s : o.std()) TORCH_CHECK(s > 0, op, ": std values must be positive, got ", s);
}

CropBoxes sample_resized_crop_boxes(int64_t batch, int64_t height, int64_t width,
                                    const Range& scale, const Range& ratio,
                                    torch::Generator& gen) {
  TORCH_CHECK(batch >= 0 && height > 0 && width > 0,
              "sample_resized_crop_boxes: bad batch/height/width ", batch, "/", height, "/", width);
  constexpr int kTries = 10;
  const double area = static_cast<double>(height * width);
  // All draws up front (10 tries + the offsets), so the stream never depends on the outcome.
  Tensor target = torch::empty({batch, kTries}, torch::kDouble);
  Tensor log_ratio = torch::empty({batch, kTries}, torch::kDouble);
  if (batch > 0) {
    target.copy_(uniform(batch * kTries, scale[0], scale[1], gen).view({batch, kTries}));
    log_ratio.copy_(uniform(batch * kTries, std::log(ratio[0]), std::log(ratio[1]), gen)
                        .view({batch, kTries}));
  }
  Tensor u = torch::rand({batch, 2}, gen, torch::kDouble);
  auto ta = target.accessor<double, 2>();
  auto lr = log_ratio.accessor<double, 2>();
  auto ua = u.accessor<double, 2>();
  CropBoxes boxes;
  for (Tensor* t : {&boxes.top, &boxes.left, &boxes.height, &boxes.width}) {
    *t = torch::empty({batch}, torch::kLong);
  }
  auto top = boxes.top.accessor<int64_t, 1>(), left = boxes.left.accessor<int64_t, 1>();
  auto bh = boxes.height.accessor<int64_t, 1>(), bw = boxes.width.accessor<int64_t, 1>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t h = 0, w = 0;
    bool found = false;
    for (int t = 0; t < kTries && !found; ++t) {
      const double a = area * ta[b][t], r = std::exp(lr[b][t]);
      // std::nearbyint rounds half to even, as Python's round().
      w = static_cast<int64_t>(std::nearbyint(std::sqrt(a * r)));
      h = static_cast<int64_t>(std::nearbyint(std::sqrt(a / r)));
      found = w > 0 && w <= width && h > 0 && h <= height;
    }
    if (found) {
      top[b] = std::min(height - h, static_cast<int64_t>(ua[b][0] * (height - h + 1)));
      left[b] = std::min(width - w, static_cast<int64_t>(ua[b][1] * (width - w + 1)));
    } else {
      // Central crop, its aspect ratio clamped to the range.
      const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
      w = width;
      h = height;
      if (in_ratio < ratio[0]) {
        h = static_cast<int64_t>(std::nearbyint(w / ratio[0]));
      } else if (in_ratio > ratio[1]) {
        w = static_cast<int64_t>(std::nearbyint(h * ratio[1]));
      }
      top[b] = (height - h) / 2;
      left[b] = (width - w) / 2;
    }
    bh[b] = h;
    bw[b] = w;
  }
  return boxes;
}

namespace functional {

Tensor random_resized_crop(const Tensor& x, const RandomResizedCropOptions& o,
                           torch::Generator& gen, bool /*inplace*/) {
  validate(o);
  check_batch(x, o.op_name);
  CropBoxes boxes = sample_resized_crop_boxes(x.size(0), x.size(2), x.size(3), o.scale(),
                                              o.ratio(), gen);
  return resized_crop(x, boxes.top, boxes.left, boxes.height, boxes.width,
                      {(*o.size())[0], (*o.size())[1]});
}

namespace {
// Source index along one axis for output positions `pos` ([B, S], may fall in the padding).
Tensor pad_index(Tensor pos, int64_t n, const std::string& mode) {
  if (mode == "reflect") {
    // Mirror without repeating the edge: -1 -> 1, n -> n - 2.
    pos = pos.abs();
    return (n - 1) - ((n - 1) - pos).abs();
  }
  return pos.clamp(0, n - 1);  // edge; constant positions are masked afterwards
}
}  // namespace

Tensor random_crop(const Tensor& x, const RandomCropOptions& o, torch::Generator& gen,
                   bool /*inplace*/) {
  validate(o);
  const char* op = o.op_name;
  check_batch(x, op);
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t sh = o.size() > 0 ? o.size() : h, sw = o.size() > 0 ? o.size() : w;
  const int64_t pad = o.padding() >= 0 ? o.padding() : std::min(sh, sw) / 8;
  TORCH_CHECK(h + 2 * pad >= sh && w + 2 * pad >= sw, op, ": a ", sh, "x", sw,
              " crop does not fit a ", h, "x", w, " image padded by ", pad);
  TORCH_CHECK(o.padding_mode() != "reflect" || (pad < h && pad < w), op, ": reflect padding ",
              pad, " must be smaller than the image side (", h, "x", w, ")");
  // Offsets of the crop in the padded image, as torchvision's randint(0, H + 2p - S + 1).
  Tensor u = torch::rand({b, 2}, gen, torch::kDouble);
  Tensor top = (u.select(1, 0) * (h + 2 * pad - sh + 1)).floor_().clamp_max_(h + 2 * pad - sh);
  Tensor left = (u.select(1, 1) * (w + 2 * pad - sw + 1)).floor_().clamp_max_(w + 2 * pad - sw);
  // Reading the source pixels through index arithmetic saves materializing the padded batch.
  auto lopts = x.options().dtype(torch::kLong);
  Tensor rows = top.to(lopts).unsqueeze(1) - pad + torch::arange(sh, lopts).unsqueeze(0);
  Tensor cols = left.to(lopts).unsqueeze(1) - pad + torch::arange(sw, lopts).unsqueeze(0);
  Tensor src = (pad_index(rows, h, o.padding_mode()).unsqueeze(2) * w +
                pad_index(cols, w, o.padding_mode()).unsqueeze(1))
                   .view({b, 1, sh * sw});
  Tensor out = x.reshape({b, c, h * w}).gather(2, src.expand({b, c, sh * sw})).view({b, c, sh, sw});
  if (o.padding_mode() == "constant" && pad > 0) {
    Tensor outside = ((rows < 0) | (rows >= h)).unsqueeze(2) | ((cols < 0) | (cols >= w)).unsqueeze(1);
    out.masked_fill_(outside.unsqueeze(1), o.fill());
  }
  return out;
}

Tensor hflip(const Tensor& x, const HorizontalFlipOptions& o, torch::Generator& gen, bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  return apply_to_subset(x, bernoulli_mask(x.size(0), o.p(), gen), inplace,
                         [](const Tensor& sub, bool, const Tensor&) { return sub.flip(3); });
}

Tensor color_jitter(const Tensor& x, const ColorJitterOptions& o, torch::Generator& gen,
                    bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  const int64_t batch = x.size(0);
  const bool rgb = x.size(1) == 3;
  // Draws: who is jittered, the four factors, the order (a random permutation per sample).
  Tensor selected = bernoulli_mask(batch, o.p(), gen);
  const double strength[3] = {o.brightness(), o.contrast(), o.saturation()};
  Tensor factors = torch::empty({4, batch}, torch::kDouble);
  for (int k = 0; k < 3; ++k) {
    factors[k].copy_(uniform(batch, std::max(0.0, 1 - strength[k]), 1 + strength[k], gen));
  }
  factors[3].copy_(uniform(batch, -o.hue(), o.hue(), gen));
  Tensor order = torch::rand({batch, 4}, gen).argsort(/*dim=*/int64_t{1});
  enum { kBrightness, kContrast, kSaturation, kHue };
  const bool enabled[4] = {o.brightness() > 0, o.contrast() > 0, rgb && o.saturation() > 0,
                           rgb && o.hue() > 0};
  if (!(enabled[0] || enabled[1] || enabled[2] || enabled[3])) return x;

  return apply_to_subset(x, selected, inplace, [&](Tensor img, bool owned, const Tensor& idx) {
    Tensor f = factors.index_select(1, idx);
    Tensor ord = order.index_select(0, idx);
    // Slot k applies each sample's k-th op. Brightness, contrast and saturation are all blends
    // clamp(a x + (1 - a) ref) with ref 0, mean gray or gray, so one fused pass serves every
    // sample whatever its op; samples on hue (or a disabled op) get a = 1 there, then the hue
    // samples are shifted apart.
    for (int64_t k = 0; k < 4; ++k) {
      Tensor op = ord.select(1, k);
      Tensor is_b = (op == kBrightness) & enabled[kBrightness];
      Tensor is_c = (op == kContrast) & enabled[kContrast];
      Tensor is_s = (op == kSaturation) & enabled[kSaturation];
      Tensor is_h = (op == kHue) & enabled[kHue];
      Tensor fk = f.gather(0, op.unsqueeze(0)).squeeze(0);
      const bool any_c = is_c.any().item<bool>(), any_s = is_s.any().item<bool>();
      if (any_c || any_s || is_b.any().item<bool>()) {
        Tensor alpha = torch::where(is_b | is_c | is_s, fk, torch::ones_like(fk));
        // ref per sample: gray for saturation, mean gray for contrast, 0 (black) for brightness
        // (undefined ref = 0 everywhere).
        Tensor ref;
        if (any_c || any_s) {
          Tensor gray = functional::rgb_to_grayscale(img);
          if (any_s) ref = gray * per_sample(is_s.to(torch::kDouble), img);
          if (any_c) {
            Tensor mean = gray.mean({1, 2, 3}, /*keepdim=*/true);
            mean.mul_(per_sample(is_c.to(torch::kDouble), img));
            ref = ref.defined() ? ref.add_(mean) : mean;
          }
        }
        img = detail::blend(img, ref, per_sample(alpha, img), owned);
        owned = true;
      }
      Tensor hue_idx = is_h.nonzero().squeeze(1);
      if (hue_idx.numel() > 0) {
        if (!owned) img = img.clone();
        owned = true;
        Tensor didx = hue_idx.to(img.device());
        Tensor shift = per_sample(f[kHue].index_select(0, hue_idx), img);
        img.index_copy_(0, didx, detail::shift_hue(img.index_select(0, didx), shift));
      }
    }
    return img;
  });
}

Tensor grayscale(const Tensor& x, const RandomGrayscaleOptions& o, torch::Generator& gen,
                 bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  Tensor selected = bernoulli_mask(x.size(0), o.p(), gen);
  if (x.size(1) == 1) return x;
  return apply_to_subset(x, selected, inplace, [](const Tensor& sub, bool owned, const Tensor&) {
    Tensor gray = rgb_to_grayscale(sub).expand_as(sub);
    return owned ? sub.copy_(gray) : gray.contiguous();
  });
}

Tensor gaussian_blur(const Tensor& x, const GaussianBlurOptions& o, torch::Generator& gen,
                     bool inplace) {
  validate(o);
  const char* op = o.op_name;
  check_batch(x, op);
  const int64_t k = o.kernel_size(), half = k / 2, h = x.size(2), w = x.size(3);
  TORCH_CHECK(half < h && half < w, op, ": kernel_size ", k, " is too large for a ", h, "x", w,
              " image (reflect padding needs kernel_size / 2 < side)");
  Tensor selected = bernoulli_mask(x.size(0), o.p(), gen);
  Tensor sigma = uniform(x.size(0), o.sigma()[0], o.sigma()[1], gen);
  if (k == 1) return x;
  return apply_to_subset(x, selected, inplace, [&](const Tensor& sub, bool, const Tensor& idx) {
    // torchvision's kernel: exp(-x^2 / (2 sigma^2)) on linspace(-k/2, k/2, k), normalized.
    Tensor pos = torch::linspace(-half, half, k, torch::kDouble).unsqueeze(0);
    Tensor s = sigma.index_select(0, idx).unsqueeze(1);
    Tensor kernel = (pos / s).pow(2).mul(-0.5).exp();
    kernel = (kernel / kernel.sum(1, true)).to(sub.device(), sub.scalar_type());
    // Separable: a weighted sum of k shifted views per axis (per-sample weights broadcast).
    Tensor padded = torch::nn::functional::pad(
        sub, torch::nn::functional::PadFuncOptions({half, half, half, half}).mode(torch::kReflect));
    auto smooth = [&](const Tensor& in, int64_t dim, int64_t len) {
      Tensor acc = in.narrow(dim, 0, len) * kernel.select(1, 0).view({-1, 1, 1, 1});
      for (int64_t t = 1; t < k; ++t) {
        acc.addcmul_(in.narrow(dim, t, len), kernel.select(1, t).view({-1, 1, 1, 1}));
      }
      return acc;
    };
    return smooth(smooth(padded, 2, h), 3, w);
  });
}

Tensor solarize(const Tensor& x, const SolarizeOptions& o, torch::Generator& gen, bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  const double threshold = o.threshold();
  return apply_to_subset(x, bernoulli_mask(x.size(0), o.p(), gen), inplace,
                         [&](const Tensor& sub, bool, const Tensor&) {
                           return torch::where(sub >= threshold, 1 - sub, sub);
                         });
}

Tensor cutout(const Tensor& x, const CutoutOptions& o, torch::Generator& gen, bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  Tensor selected = bernoulli_mask(b, o.p(), gen);
  Tensor side = o.min_size() >= 0 ? uniform(b, o.min_size(), o.size(), gen)
                                  : torch::full({b}, o.size(), torch::kDouble);
  Tensor centre = torch::rand({b, 2}, gen, torch::kDouble);
  // USB's CutoutAbs: the corner is the centre minus half a side, clamped at 0; the far edge is
  // corner + side, clamped at the image's edge.
  Tensor sy = side * h, sx = side * w;
  Tensor y0 = (centre.select(1, 0) * h - sy / 2).clamp_min(0).floor();
  Tensor x0 = (centre.select(1, 1) * w - sx / 2).clamp_min(0).floor();
  Tensor y1 = (y0 + sy).clamp_max(h).floor().masked_fill(~selected, 0);
  Tensor x1 = (x0 + sx).clamp_max(w).floor();
  auto lopts = x.options().dtype(torch::kLong);
  auto col = [&](const Tensor& v) { return v.to(lopts).view({b, 1, 1, 1}); };
  Tensor r = torch::arange(h, lopts).view({1, 1, h, 1});
  Tensor c = torch::arange(w, lopts).view({1, 1, 1, w});
  if (!selected.any().item<bool>()) return x;
  Tensor box = (r >= col(y0)) & (r < col(y1)) & (c >= col(x0)) & (c < col(x1));
  return inplace ? x.masked_fill_(box, o.fill()) : x.masked_fill(box, o.fill());
}

Tensor normalize(const Tensor& x, const NormalizeOptions& o, torch::Generator&, bool inplace) {
  validate(o);
  const char* op = o.op_name;
  check_batch(x, op);
  const int64_t c = x.size(1), n = static_cast<int64_t>(o.mean().size());
  TORCH_CHECK(n == 1 || n == c, op, ": ", n, " mean/std values for a ", c, "-channel batch");
  auto opts = x.options();
  Tensor mean = torch::tensor(o.mean(), torch::kDouble).to(opts).view({1, n, 1, 1});
  Tensor inv_std = torch::tensor(o.std(), torch::kDouble).reciprocal().to(opts).view({1, n, 1, 1});
  return inplace ? x.sub_(mean).mul_(inv_std) : (x - mean).mul_(inv_std);
}

}  // namespace functional
}  // namespace selfsup::augment
