// Deterministic per-sample image operations (torchvision.transforms.functional semantics) and the
// helpers shared by the random transforms.
#include "selfsup/augment/functional.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"

namespace selfsup::augment {
namespace detail {

using torch::Tensor;

void check_batch(const Tensor& x, const char* op) {
  TORCH_CHECK(x.defined(), op, ": the input batch is undefined");
  TORCH_CHECK(x.dim() == 4, op, ": expected a batch [B, C, H, W], got shape ", x.sizes());
  TORCH_CHECK(x.size(1) == 1 || x.size(1) == 3, op, ": expected 1 or 3 channels, got ", x.size(1),
              " (shape ", x.sizes(), ")");
  TORCH_CHECK(x.scalar_type() == torch::kFloat, op, ": expected a float32 batch, got ",
              x.scalar_type(), " (convert uint8 images with Pipeline or x.to(kFloat) / 255)");
}

void check_probability(double p, const char* op, const char* arg) {
  TORCH_CHECK(p >= 0.0 && p <= 1.0, op, ": ", arg, " must be in [0, 1], got ", p);
}

Tensor uniform(int64_t n, double lo, double hi, torch::Generator& gen) {
  Tensor u = torch::empty({n}, torch::kDouble);
  // uniform_ rejects lo == hi; a degenerate range is simply the constant.
  return lo < hi ? u.uniform_(lo, hi, gen) : u.fill_(lo);
}

Tensor bernoulli_mask(int64_t n, double p, torch::Generator& gen) {
  return torch::rand({n}, gen, torch::kDouble) < p;
}

Tensor per_sample(const Tensor& v, const Tensor& x) {
  return v.to(x.device(), torch::kFloat).view({-1, 1, 1, 1});
}

Tensor blend(const Tensor& x, const Tensor& ref, const Tensor& f4, bool inplace) {
  Tensor out;
  if (!ref.defined()) {
    out = inplace ? x.mul_(f4) : x * f4;
  } else {
    Tensor r = ref * (1 - f4);
    // One fused pass r + x * f, written over x when allowed.
    if (inplace) {
      out = x;
      at::addcmul_out(out, r, x, f4);
    } else {
      out = at::addcmul(r, x, f4);
    }
  }
  return out.clamp_(0, 1);
}

Tensor shift_hue(const Tensor& x, const Tensor& shift4) {
  // HSV hue rotation without building HSV: the max, min and chroma of each pixel are kept, only
  // the hue moves. Each output channel is min + chroma * P_k(h6), with h6 the hue in sextants
  // [0, 6) and P the fully saturated colour of that hue (torchvision's _hsv2rgb values). Written
  // with in-place ops on [B, 1, H, W] planes where possible: this is the costliest jitter op.
  Tensor r = x.narrow(1, 0, 1), g = x.narrow(1, 1, 1), b = x.narrow(1, 2, 1);
  Tensor maxc = x.amax(1, /*keepdim=*/true), minc = x.amin(1, /*keepdim=*/true);
  Tensor chroma = maxc - minc;
  // torchvision's _rgb2hsv: the channel holding the max picks (g - b) / c, 2 + (b - r) / c or
  // 4 + (r - g) / c, with r before g before b on ties. not_r = ceil(max - r) is 0 where r is the
  // max and 1 elsewhere (float arithmetic: comparisons to bool and back cost 6x more here).
  Tensor not_r = (maxc - r).ceil_(), not_g = (maxc - g).ceil_();
  Tensor h_r = g - b;
  Tensor h_g = (b - r).add_(chroma, 2);
  Tensor h6 = (r - g).add_(chroma, 4);  // h_b
  h6.sub_(h_g).mul_(not_g).add_(h_g);   // h_g where g is the max, else h_b
  h6.sub_(h_r).mul_(not_r).add_(h_r);   // h_r where r is the max
  // Gray pixels (chroma 0) have numerators 0: any hue will do, the output is min either way.
  // (Clamping chroma in place only adds < 1e-37 to the output below.)
  h6.div_(chroma.clamp_min_(std::numeric_limits<float>::min()));
  h6.add_(shift4, 6);
  h6.sub_((h6 * (1.0 / 6.0)).floor_().mul_(6));  // wrap into [0, 6)
  // P_R = clamp(|h6 - 3| - 1), P_G = clamp(2 - |h6 - 2|), P_B = clamp(2 - |h6 - 4|).
  auto opts = x.options();
  Tensor centre = torch::tensor({3.0f, 2.0f, 4.0f}, opts).view({1, 3, 1, 1});
  Tensor sign = torch::tensor({1.0f, -1.0f, -1.0f}, opts).view({1, 3, 1, 1});
  Tensor offset = torch::tensor({-1.0f, 2.0f, 2.0f}, opts).view({1, 3, 1, 1});
  Tensor p = (h6 - centre).abs_();
  at::addcmul_out(p, offset, p, sign).clamp_(0, 1);
  return at::addcmul_out(p, minc, p, chroma);
}

}  // namespace detail

namespace functional {

// Largest side for which resized_crop uses dense interpolation matrices instead of grid_sample.
constexpr int64_t kMaxMatmulSide = 128;

using detail::check_batch;
using detail::per_sample;
using torch::Tensor;

namespace {
Tensor full_factor(const Tensor& x, double value) {
  return torch::full({x.size(0)}, value, torch::kDouble);
}

void check_factor(const Tensor& x, const Tensor& factor, const char* op) {
  check_batch(x, op);
  TORCH_CHECK(factor.defined() && factor.numel() == x.size(0), op,
              ": expected one factor per sample (", x.size(0), "), got ",
              factor.defined() ? factor.numel() : 0);
}
}  // namespace

Tensor rgb_to_grayscale(const Tensor& x) {
  check_batch(x, "rgb_to_grayscale");
  if (x.size(1) == 1) return x;
  return x.narrow(1, 0, 1).mul(0.299).add_(x.narrow(1, 1, 1), 0.587).add_(x.narrow(1, 2, 1), 0.114);
}

Tensor adjust_brightness(const Tensor& x, const Tensor& factor) {
  check_factor(x, factor, "adjust_brightness");
  return detail::blend(x, {}, per_sample(factor, x), false);
}

Tensor adjust_contrast(const Tensor& x, const Tensor& factor) {
  check_factor(x, factor, "adjust_contrast");
  Tensor mean = rgb_to_grayscale(x).mean({1, 2, 3}, /*keepdim=*/true);
  return detail::blend(x, mean, per_sample(factor, x), false);
}

Tensor adjust_saturation(const Tensor& x, const Tensor& factor) {
  check_factor(x, factor, "adjust_saturation");
  if (x.size(1) == 1) return x;
  return detail::blend(x, rgb_to_grayscale(x), per_sample(factor, x), false);
}

Tensor adjust_hue(const Tensor& x, const Tensor& shift) {
  check_factor(x, shift, "adjust_hue");
  TORCH_CHECK((shift.abs() <= 0.5).all().item<bool>(), "adjust_hue: shifts must be in [-0.5, 0.5]");
  if (x.size(1) == 1) return x;
  return detail::shift_hue(x, per_sample(shift, x));
}

Tensor adjust_sharpness(const Tensor& x, const Tensor& factor) {
  check_factor(x, factor, "adjust_sharpness");
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  if (h <= 2 || w <= 2) return x;
  Tensor kernel = torch::ones({1, 1, 3, 3}, x.options());
  kernel[0][0][1][1] = 5.0;
  kernel.div_(13.0);
  Tensor smooth = torch::conv2d(x.reshape({b * c, 1, h, w}), kernel).view({b, c, h - 2, w - 2});
  Tensor degenerate = x.clone();
  degenerate.narrow(2, 1, h - 2).narrow(3, 1, w - 2).copy_(smooth);
  return detail::blend(x, degenerate, per_sample(factor, x), false);
}

Tensor solarize(const Tensor& x, const Tensor& threshold) {
  check_factor(x, threshold, "solarize");
  return torch::where(x >= per_sample(threshold, x), 1 - x, x);
}

Tensor posterize(const Tensor& x, const Tensor& bits) {
  check_factor(x, bits, "posterize");
  TORCH_CHECK(((bits >= 1) & (bits <= 8)).all().item<bool>(), "posterize: bits must be in [1, 8]");
  Tensor step = per_sample(torch::pow(2.0, 8 - bits.to(torch::kDouble).floor()), x);
  return (x * 255).round_().div_(step).floor_().mul_(step).div_(255);
}

Tensor autocontrast(const Tensor& x) {
  check_batch(x, "autocontrast");
  Tensor lo = x.amin({2, 3}, /*keepdim=*/true);
  Tensor hi = x.amax({2, 3}, /*keepdim=*/true);
  Tensor flat = hi <= lo;
  Tensor scale = (hi - lo).masked_fill_(flat, 1).reciprocal_();
  return (x - lo.masked_fill_(flat, 0)).mul_(scale).clamp_(0, 1);
}

Tensor equalize(const Tensor& x) {
  check_batch(x, "equalize");
  const int64_t b = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor q = (x * 255).round_().clamp_(0, 255).to(torch::kLong).view({b * c, hw});
  Tensor hist = torch::zeros({b * c, 256}, q.options()).scatter_add_(1, q, torch::ones_like(q));
  // torchvision's _scale_channel: step = (pixels outside the last non-empty bin) // 255, and
  // lut = (cumsum + step // 2) // step shifted right by one bin.
  Tensor bins = torch::arange(256, q.options()).unsqueeze(0);
  Tensor last = (bins * (hist > 0)).amax(1, /*keepdim=*/true);
  Tensor step = torch::div(hw - hist.gather(1, last), 255, "floor");
  Tensor degenerate = step == 0;
  Tensor safe = step.masked_fill(degenerate, 1);
  Tensor lut = torch::div(hist.cumsum(1) + torch::div(safe, 2, "floor"), safe, "floor");
  lut = torch::cat({torch::zeros({b * c, 1}, lut.options()), lut.narrow(1, 0, 255)}, 1)
            .clamp_(0, 255);
  Tensor out = lut.gather(1, q).to(x.scalar_type()).div_(255).view_as(x);
  return torch::where(degenerate.view({b, c, 1, 1}), x, out);
}

Tensor adjust_brightness(const Tensor& x, double f) {
  return adjust_brightness(x, full_factor(x, f));
}
Tensor adjust_contrast(const Tensor& x, double f) { return adjust_contrast(x, full_factor(x, f)); }
Tensor adjust_saturation(const Tensor& x, double f) {
  return adjust_saturation(x, full_factor(x, f));
}
Tensor adjust_hue(const Tensor& x, double s) { return adjust_hue(x, full_factor(x, s)); }

Tensor affine(const Tensor& x, const Tensor& matrix, double fill, bool bilinear) {
  check_batch(x, "affine");
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  TORCH_CHECK(
      matrix.dim() == 3 && matrix.size(0) == b && matrix.size(1) == 2 && matrix.size(2) == 3,
      "affine: expected matrices [", b, ", 2, 3], got ", matrix.sizes());
  // grid_sample works in coordinates normalized by the half sides (align_corners = false):
  // theta = D^-1 [A | t] D with D = diag(W / 2, H / 2).
  Tensor m = matrix.to(torch::kCPU, torch::kDouble);
  Tensor theta = m.clone();
  const double hw = static_cast<double>(h) / static_cast<double>(w);
  theta.select(1, 0).select(1, 1).mul_(hw);
  theta.select(1, 1).select(1, 0).div_(hw);
  theta.select(1, 0).select(1, 2).div_(w / 2.0);
  theta.select(1, 1).select(1, 2).div_(h / 2.0);
  theta = theta.to(x.device(), x.scalar_type());
  Tensor grid = torch::nn::functional::affine_grid(theta, x.sizes(), /*align_corners=*/false);
  namespace F = torch::nn::functional;
  auto opts = F::GridSampleFuncOptions().padding_mode(torch::kZeros).align_corners(false);
  if (bilinear) {
    opts.mode(torch::kBilinear);
  } else {
    opts.mode(torch::kNearest);
  }
  // Zero padding yields 0 outside; shifting by `fill` makes that `fill`.
  if (fill == 0.0) return F::grid_sample(x, grid, opts);
  return F::grid_sample(x - fill, grid, opts).add_(fill);
}

Tensor resized_crop(const Tensor& x, const Tensor& top, const Tensor& left, const Tensor& height,
                    const Tensor& width, std::array<int64_t, 2> size, const Tensor& flip) {
  check_batch(x, "resized_crop");
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  TORCH_CHECK(size[0] > 0 && size[1] > 0, "resized_crop: size must be positive, got (", size[0],
              ", ", size[1], ")");
  for (const Tensor* t : {&top, &left, &height, &width}) {
    TORCH_CHECK(t->defined() && t->numel() == b, "resized_crop: expected ", b,
                " boxes (one per sample)");
  }
  Tensor i = top.to(torch::kCPU, torch::kDouble), j = left.to(torch::kCPU, torch::kDouble);
  Tensor bh = height.to(torch::kCPU, torch::kDouble), bw = width.to(torch::kCPU, torch::kDouble);
  TORCH_CHECK(((i >= 0) & (j >= 0) & (bh > 0) & (bw > 0) & (i + bh <= h) & (j + bw <= w))
                  .all()
                  .item<bool>(),
              "resized_crop: every box must lie inside the ", h, "x", w, " image");
  // Source position of each output row/column, as torch's interpolate of the cropped image
  // (align_corners = false): start + clamp((dst + 0.5) * side / size - 0.5, 0, side - 1), so no
  // pixel outside the box is ever read.
  auto positions = [](const Tensor& start, const Tensor& side, int64_t size) {
    Tensor dst = torch::arange(size, torch::kDouble).unsqueeze(0) + 0.5;
    Tensor s = dst * (side / size).unsqueeze(1) - 0.5;
    s = torch::max(torch::min(s, (side - 1).unsqueeze(1)), torch::zeros_like(s));
    return start.unsqueeze(1) + s;  // [B, size], double, CPU
  };
  Tensor px = positions(j, bw, size[1]), py = positions(i, bh, size[0]);
  if (flip.defined())
    px = torch::where(flip.to(torch::kCPU, torch::kBool).unsqueeze(1), px.flip(1), px);
  const int64_t c = x.size(1);
  const auto opts = x.options();
  if (std::max({h, w, size[0], size[1]}) <= kMaxMatmulSide) {
    // Small images (faster than grid_sample up to ~128 px). Rows: each output row blends two
    // input rows, fetched whole by index_select. Columns: a [B, side, size] matrix with two
    // weights per output column, applied by one batched matmul.
    Tensor r0 = py.floor(), t = (py - r0).to(opts).view({b, 1, size[0], 1});
    Tensor r1 = (r0 + 1).clamp_max(h - 1);
    auto lopts = opts.dtype(torch::kLong);
    Tensor base = (torch::arange(b * c, lopts) * h).view({b, c, 1});
    auto rows = [&](const Tensor& r) {
      Tensor idx = (base + r.to(lopts).unsqueeze(1)).flatten();
      return x.reshape({b * c * h, w}).index_select(0, idx).view({b, c, size[0], w});
    };
    Tensor lower = rows(r0), upper = rows(r1);
    // lower + t (upper - lower) in two passes, written over lower.
    at::addcmul_out(lower, lower, upper.sub_(lower), t);
    const Tensor& blended = lower;
    Tensor c0 = px.floor(), u = px - c0;
    Tensor idx = torch::stack({c0, (c0 + 1).clamp_max(w - 1)}, 1).to(lopts);  // [B, 2, size]
    Tensor weight = torch::stack({1 - u, u}, 1).to(opts);
    Tensor cols = torch::zeros({b, w, size[1]}, opts).scatter_add_(1, idx, weight);
    return torch::bmm(blended.view({b, c * size[0], w}), cols).view({b, c, size[0], size[1]});
  }
  // Larger images: one grid_sample, in its normalized coordinates.
  Tensor gx = ((2 * px + 1) / w - 1).to(opts).view({b, 1, size[1]}).expand({b, size[0], size[1]});
  Tensor gy = ((2 * py + 1) / h - 1).to(opts).view({b, size[0], 1}).expand({b, size[0], size[1]});
  namespace F = torch::nn::functional;
  return F::grid_sample(x, torch::stack({gx, gy}, 3),
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kBorder)
                            .align_corners(false));
}

}  // namespace functional
}  // namespace selfsup::augment
