// Random transforms: parameters drawn per sample on the CPU generator, applied to the batch at
// once.
#include "selfsup/augment/transforms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  TORCH_CHECK(
      o.padding_mode() == "reflect" || o.padding_mode() == "edge" || o.padding_mode() == "constant",
      op, ": padding_mode must be reflect, edge or constant, got '", o.padding_mode(), "'");
}

void validate(const HorizontalFlipOptions& o) {
  check_probability(o.p(), HorizontalFlipOptions::op_name);
}

void validate(const ColorJitterOptions& o) {
  const char* op = ColorJitterOptions::op_name;
  TORCH_CHECK(o.brightness() >= 0, op, ": brightness must be >= 0, got ", o.brightness());
  TORCH_CHECK(o.contrast() >= 0, op, ": contrast must be >= 0, got ", o.contrast());
  TORCH_CHECK(o.saturation() >= 0, op, ": saturation must be >= 0, got ", o.saturation());
  TORCH_CHECK(o.hue() >= 0 && o.hue() <= 0.5, op, ": hue must be in [0, 0.5], got ", o.hue());
  check_probability(o.p(), op);
}

void validate(const RandomGrayscaleOptions& o) {
  check_probability(o.p(), RandomGrayscaleOptions::op_name);
}

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
              ": mean and std must be non-empty and of equal length, got ", o.mean().size(),
              " and ", o.std().size());
  for (double s : o.std()) TORCH_CHECK(s > 0, op, ": std values must be positive, got ", s);
}

CropBoxes sample_resized_crop_boxes(int64_t batch, int64_t height, int64_t width,
                                    const Range& scale, const Range& ratio, torch::Generator& gen) {
  TORCH_CHECK(batch >= 0 && height > 0 && width > 0,
              "sample_resized_crop_boxes: bad batch/height/width ", batch, "/", height, "/", width);
  constexpr int kTries = 10;
  const double area = static_cast<double>(height * width);
  // All draws up front (10 tries + the offsets), so the stream never depends on the outcome.
  Tensor target = torch::empty({batch, kTries}, torch::kDouble);
  Tensor log_ratio = torch::empty({batch, kTries}, torch::kDouble);
  if (batch > 0) {
    target.copy_(uniform(batch * kTries, scale[0], scale[1], gen).view({batch, kTries}));
    log_ratio.copy_(
        uniform(batch * kTries, std::log(ratio[0]), std::log(ratio[1]), gen).view({batch, kTries}));
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

namespace detail {

// Source index along one axis for output positions `pos` ([B, S], may fall in the padding).
Tensor pad_index(Tensor pos, int64_t n, const std::string& mode) {
  if (mode == "reflect") {
    // Mirror without repeating the edge: -1 -> 1, n -> n - 2.
    pos = pos.abs();
    return (n - 1) - ((n - 1) - pos).abs();
  }
  return pos.clamp(0, n - 1);  // edge; constant positions are masked afterwards
}

Tensor random_resized_crop(const Tensor& x, const RandomResizedCropOptions& o, double flip_p,
                           torch::Generator& gen) {
  validate(o);
  check_batch(x, o.op_name);
  CropBoxes boxes =
      sample_resized_crop_boxes(x.size(0), x.size(2), x.size(3), o.scale(), o.ratio(), gen);
  Tensor flip = flip_p >= 0 ? bernoulli_mask(x.size(0), flip_p, gen) : Tensor();
  return functional::resized_crop(x, boxes.top, boxes.left, boxes.height, boxes.width,
                                  {(*o.size())[0], (*o.size())[1]}, flip);
}

Tensor random_crop(const Tensor& x, const RandomCropOptions& o, double flip_p,
                   torch::Generator& gen) {
  validate(o);
  const char* op = o.op_name;
  check_batch(x, op);
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t sh = o.size() > 0 ? o.size() : h, sw = o.size() > 0 ? o.size() : w;
  const int64_t pad = o.padding() >= 0 ? o.padding() : std::min(sh, sw) / 8;
  TORCH_CHECK(h + 2 * pad >= sh && w + 2 * pad >= sw, op, ": a ", sh, "x", sw,
              " crop does not fit a ", h, "x", w, " image padded by ", pad);
  TORCH_CHECK(o.padding_mode() != "reflect" || (pad < h && pad < w), op, ": reflect padding ", pad,
              " must be smaller than the image side (", h, "x", w, ")");
  // Offsets of the crop in the padded image, as torchvision's randint(0, H + 2p - S + 1).
  Tensor u = torch::rand({b, 2}, gen, torch::kDouble);
  Tensor top = (u.select(1, 0) * (h + 2 * pad - sh + 1)).floor_().clamp_max_(h + 2 * pad - sh);
  Tensor left = (u.select(1, 1) * (w + 2 * pad - sw + 1)).floor_().clamp_max_(w + 2 * pad - sw);
  // Reading the source pixels through index arithmetic saves materializing the padded batch.
  auto lopts = x.options().dtype(torch::kLong);
  Tensor rows = top.to(lopts).unsqueeze(1) - pad + torch::arange(sh, lopts).unsqueeze(0);
  Tensor cols = left.to(lopts).unsqueeze(1) - pad + torch::arange(sw, lopts).unsqueeze(0);
  if (flip_p >= 0) {  // a fused horizontal flip reads the columns backwards
    Tensor flip = bernoulli_mask(b, flip_p, gen).to(x.device()).unsqueeze(1);
    cols = torch::where(flip, cols.flip(1), cols);
  }
  Tensor src = (pad_index(rows, h, o.padding_mode()).unsqueeze(2) * w +
                pad_index(cols, w, o.padding_mode()).unsqueeze(1))
                   .view({b, 1, sh * sw});
  Tensor out = x.reshape({b, c, h * w}).gather(2, src.expand({b, c, sh * sw})).view({b, c, sh, sw});
  if (o.padding_mode() == "constant" && pad > 0) {
    Tensor outside =
        ((rows < 0) | (rows >= h)).unsqueeze(2) | ((cols < 0) | (cols >= w)).unsqueeze(1);
    out.masked_fill_(outside.unsqueeze(1), o.fill());
  }
  return out;
}

}  // namespace detail

namespace functional {

Tensor random_resized_crop(const Tensor& x, const RandomResizedCropOptions& o,
                           torch::Generator& gen, bool /*inplace*/) {
  return detail::random_resized_crop(x, o, -1.0, gen);
}

Tensor random_crop(const Tensor& x, const RandomCropOptions& o, torch::Generator& gen,
                   bool /*inplace*/) {
  return detail::random_crop(x, o, -1.0, gen);
}

Tensor hflip(const Tensor& x, const HorizontalFlipOptions& o, torch::Generator& gen, bool inplace) {
  validate(o);
  check_batch(x, o.op_name);
  return apply_to_subset(x, bernoulli_mask(x.size(0), o.p(), gen), inplace,
                         [](const Tensor& sub, bool, const Tensor&) { return sub.flip(3); });
}

}  // namespace functional

namespace detail {
namespace {
enum JitterOp : int64_t { kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3 };

// Brightness, contrast and saturation are all blends clamp(a x + w_gray gray + w_mean mean(gray))
// with (a, w_gray, w_mean) = (f, 0, 0), (f, 0, 1 - f) or (f, 1 - f, 0), so one slot of the
// samples' op orders is one fused pass whatever each sample's op (a hue slot gets (1, 0, 0)).
// The coefficients are laid out [slot, a / w_gray / w_mean, n, 1, 1, 1] for broadcasting.
struct Slots {
  Tensor coef;
  Tensor hue;                    // [n, 1, 1, 1] shifts
  std::vector<char> gray, mean;  // per slot: does any sample need the gray image / its mean
};

Tensor blend_slots(Tensor img, bool& owned, const Slots& s, int64_t from, int64_t to) {
  for (int64_t k = from; k < to; ++k) {
    Tensor a = s.coef[k][0];
    if (!s.gray[k] && !s.mean[k]) {  // brightness only
      img = owned ? img.mul_(a) : img * a;
    } else {
      Tensor gray = functional::rgb_to_grayscale(img);  // img itself when 1-channel
      Tensor ref;
      if (s.mean[k]) ref = gray.mean({1, 2, 3}, /*keepdim=*/true).mul_(s.coef[k][2]);
      if (s.gray[k]) {  // only 3-channel batches have saturation, so gray is a fresh tensor
        gray.mul_(s.coef[k][1]);
        ref = ref.defined() ? gray.add_(ref) : gray;
      }
      if (owned) {
        at::addcmul_out(img, ref, img, a);
      } else {
        img = at::addcmul(ref, img, a);
      }
    }
    owned = true;
    img.clamp_(0, 1);
  }
  return img;
}

// The per-pixel loops of the CPU kernel, written so that GCC vectorizes them: no calls, every
// candidate value computed before a select (speculating FP arithmetic inside a branch is not
// allowed under -ftrapping-math), restrict-qualified planes; compiled for AVX-512, AVX2 and the
// baseline, the best one picked when the library loads. The hue loop alone was ~60% of an RGB
// view's augmentation time before this.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SELFSUP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SELFSUP_VECTOR_CLONES
#endif

inline float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

SELFSUP_VECTOR_CLONES void scale_clamp(float* __restrict x, int64_t n, float f, float ref) {
  for (int64_t i = 0; i < n; ++i) x[i] = clamp01(ref + x[i] * f);
}

SELFSUP_VECTOR_CLONES void saturate_rgb(float* __restrict r, float* __restrict g, float* __restrict b, int64_t n,
                                        float f, float w) {
  for (int64_t i = 0; i < n; ++i) {
    const float gray = (r[i] * 0.299f + g[i] * 0.587f + b[i] * 0.114f) * w;
    r[i] = clamp01(gray + r[i] * f);
    g[i] = clamp01(gray + g[i] * f);
    b[i] = clamp01(gray + b[i] * f);
  }
}

// As detail::shift_hue: max, min and chroma are kept, the hue h6 in sextants [0, 6) moves, and
// each channel is min + chroma * P_k(h6). The base hue is in [-1, 5] and the shift in [-3, 3], so
// one conditional add or subtract of 6 wraps it (instead of a floor, which would be a call).
SELFSUP_VECTOR_CLONES void shift_hue_rgb(float* __restrict r, float* __restrict g, float* __restrict b, int64_t n,
                                         float shift6) {
  for (int64_t i = 0; i < n; ++i) {
    const float vr = r[i], vg = g[i], vb = b[i];
    const float mx = std::max(vr, std::max(vg, vb)), mn = std::min(vr, std::min(vg, vb));
    const float c = mx - mn;
    const float from_r = vg - vb, from_g = (vb - vr) + 2 * c, from_b = (vr - vg) + 4 * c;
    const float num = mx == vr ? from_r : (mx == vg ? from_g : from_b);
    float h = num / std::max(c, std::numeric_limits<float>::min()) + shift6;
    const float up = h + 6, down = h - 6;
    h = h < 0 ? up : (h >= 6 ? down : h);
    r[i] = mn + c * clamp01(std::fabs(h - 3) - 1);
    g[i] = mn + c * clamp01(2 - std::fabs(h - 2));
    b[i] = mn + c * clamp01(2 - std::fabs(h - 4));
  }
}

// CPU: each selected sample runs its ops in its own order on its own pixels, which stay in the L1
// cache (a 3x32x32 float image is 12 KB), so jittering costs about one read and one write of the
// batch instead of one pass over it per op and per clamp (~36 on RGB with the tensor ops).
// The arithmetic is the tensor path's, pixel by pixel.
Tensor jitter_per_sample(const Tensor& x, const std::vector<std::vector<int64_t>>& order,
                         const Tensor& factors, bool inplace) {
  Tensor out = inplace && x.is_contiguous() ? x : x.clone(at::MemoryFormat::Contiguous);
  const int64_t batch = out.size(0), channels = out.size(1), hw = out.size(2) * out.size(3);
  auto fac = factors.accessor<double, 2>();
  float* base = out.data_ptr<float>();
  for (int64_t b = 0; b < batch; ++b) {
    float* r = base + b * channels * hw;
    float* g = r + (channels == 3 ? hw : 0);
    float* bl = r + (channels == 3 ? 2 * hw : 0);
    for (const int64_t op : order[b]) {
      const float f = static_cast<float>(fac[b][op]), w = static_cast<float>(1 - fac[b][op]);
      if (op == kBrightness) {
        scale_clamp(r, channels * hw, f, 0.0f);
      } else if (op == kContrast) {
        double sum = 0;  // the mean of the gray image, as rgb_to_grayscale(img).mean()
        if (channels == 3) {
          for (int64_t i = 0; i < hw; ++i) sum += r[i] * 0.299f + g[i] * 0.587f + bl[i] * 0.114f;
        } else {
          for (int64_t i = 0; i < hw; ++i) sum += r[i];
        }
        scale_clamp(r, channels * hw, f, static_cast<float>(sum / static_cast<double>(hw)) * w);
      } else if (op == kSaturation) {
        saturate_rgb(r, g, bl, hw, f, w);
      } else {
        shift_hue_rgb(r, g, bl, hw, static_cast<float>(fac[b][kHue]) * 6.0f);
      }
    }
  }
  return out;
}
}  // namespace

Tensor color_jitter(const Tensor& x, const ColorJitterOptions& o, torch::Generator& gen,
                    bool inplace, bool per_sample_kernel) {
  validate(o);
  check_batch(x, o.op_name);
  const int64_t batch = x.size(0);
  const bool rgb = x.size(1) == 3;
  // Draws, the same whatever the data: who is jittered, the four factors, the order keys.
  Tensor selected = bernoulli_mask(batch, o.p(), gen);
  const double strength[3] = {o.brightness(), o.contrast(), o.saturation()};
  Tensor factors = torch::empty({batch, 4}, torch::kDouble);
  for (int k = 0; k < 3; ++k) {
    factors.select(1, k).copy_(
        uniform(batch, std::max(0.0, 1 - strength[k]), 1 + strength[k], gen));
  }
  factors.select(1, kHue).copy_(uniform(batch, -o.hue(), o.hue(), gen));
  Tensor keys = torch::rand({batch, 4}, gen, torch::kDouble);
  // Saturation and hue do nothing to gray images; disabled ops are left out of the order, which
  // is then a uniformly random permutation of the enabled ops, as torchvision's.
  const bool on[4] = {o.brightness() > 0, o.contrast() > 0, rgb && o.saturation() > 0,
                      rgb && o.hue() > 0};
  std::vector<int64_t> enabled;
  for (int64_t k = 0; k < 4; ++k) {
    if (on[k]) enabled.push_back(k);
  }
  const int64_t n_ops = static_cast<int64_t>(enabled.size());
  if (n_ops == 0) return x;

  // The plan, with plain loops over the parameters: each sample's order of ops, and groups by
  // where hue falls in it. A group runs its blends before the hue shift, the shift, then the
  // blends after it, so every sample pays one pass per op (without hue: a single group).
  auto sel = selected.accessor<bool, 1>();
  auto fac = factors.accessor<double, 2>();
  auto key = keys.accessor<double, 2>();
  std::vector<std::vector<int64_t>> order(batch);
  std::vector<std::vector<int64_t>> groups(on[kHue] ? n_ops : 1);
  for (int64_t b = 0; b < batch; ++b) {
    if (!sel[b]) continue;
    order[b] = enabled;
    std::sort(order[b].begin(), order[b].end(),
              [&](int64_t i, int64_t j) { return key[b][i] < key[b][j]; });
    const auto hue_at = std::find(order[b].begin(), order[b].end(), kHue) - order[b].begin();
    groups[on[kHue] ? hue_at : 0].push_back(b);
  }
  if (per_sample_kernel) {
    TORCH_CHECK(x.device().is_cpu(), o.op_name, ": the per-sample kernel runs on the CPU only, got a batch on ",
                x.device());
    return jitter_per_sample(x, order, factors, inplace);
  }

  Tensor out = x;
  bool owned = inplace;
  for (size_t pos = 0; pos < groups.size(); ++pos) {
    const std::vector<int64_t>& members = groups[pos];
    const int64_t n = static_cast<int64_t>(members.size());
    if (n == 0) continue;
    Slots s;
    s.gray.assign(n_ops, 0);
    s.mean.assign(n_ops, 0);
    Tensor coef = torch::empty({n_ops, 3, n}, torch::kFloat),
           hue = torch::empty({n}, torch::kFloat);
    auto c = coef.accessor<float, 3>();
    auto h = hue.accessor<float, 1>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = members[i];
      h[i] = static_cast<float>(fac[b][kHue]);
      for (int64_t k = 0; k < n_ops; ++k) {
        const int64_t op = order[b][k];
        const double f = fac[b][op];
        c[k][0][i] = op == kHue ? 1.0f : static_cast<float>(f);
        c[k][1][i] = op == kSaturation ? static_cast<float>(1 - f) : 0.0f;
        c[k][2][i] = op == kContrast ? static_cast<float>(1 - f) : 0.0f;
        s.gray[k] |= op == kSaturation;
        s.mean[k] |= op == kContrast;
      }
    }
    s.coef = coef.to(x.device()).view({n_ops, 3, n, 1, 1, 1});
    s.hue = hue.to(x.device()).view({n, 1, 1, 1});
    Tensor idx = torch::tensor(members, torch::kLong);
    const int64_t hue_at = on[kHue] ? static_cast<int64_t>(pos) : n_ops;
    Tensor next =
        detail::apply_to_indices(out, idx, owned, [&](Tensor img, bool own, const Tensor&) {
          img = blend_slots(img, own, s, 0, hue_at);
          if (hue_at < n_ops) {
            img = detail::shift_hue(img, s.hue);
            own = true;
            img = blend_slots(img, own, s, hue_at + 1, n_ops);
          }
          return img;
        });
    owned = owned || !next.is_same(out);
    out = next;
  }
  return out;
}
}  // namespace detail

namespace functional {
Tensor color_jitter(const Tensor& x, const ColorJitterOptions& o, torch::Generator& gen,
                    bool inplace) {
  return detail::color_jitter(x, o, gen, inplace, /*per_sample_kernel=*/x.device().is_cpu());
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
