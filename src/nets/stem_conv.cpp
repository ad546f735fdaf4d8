#include "selfsup/nets/stem_conv.h"

#include "kernel_util.h"

#include <vector>

namespace selfsup::functional {

namespace {

// Copies plane [H, W] into the middle of pad [(H + 2), (W + 2)] (whose border stays 0).
template <typename T>
void pad_plane(const T* plane, int64_t h, int64_t w, T* pad) {
  for (int64_t y = 0; y < h; ++y) {
    std::copy(plane + y * w, plane + (y + 1) * w, pad + (y + 1) * (w + 2) + 1);
  }
}

// The plane is processed in padded coordinates: with wp = w + 2, output (y, x) sits at flat
// index q = y * wp + x, and tap (dy, dx) reads pad[q + dy * wp + dx]. One loop over all h * wp
// indices (the 2 extra per row are discarded) is long enough to vectorise well; a loop per
// 28-pixel row spent most of its time in remainders.

// out[y][x] = sum over the 3x3 taps of k[dy][dx] * pad[y + dy][x + dx], one output plane.
template <typename T>
inline void forward_plane(const T* __restrict__ pad, const T* __restrict__ k, T* __restrict__ out,
                          T* __restrict__ flat /* [h * wp] */, int64_t h, int64_t w) {
  const int64_t wp = w + 2, len = h * wp;
  const T k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7], k8 = k[8];
  const T* r0 = pad;
  const T* r1 = pad + wp;
  const T* r2 = pad + 2 * wp;
  for (int64_t q = 0; q < len; ++q) {
    flat[q] = k0 * r0[q] + k1 * r0[q + 1] + k2 * r0[q + 2] + k3 * r1[q] + k4 * r1[q + 1] + k5 * r1[q + 2] +
              k6 * r2[q] + k7 * r2[q + 1] + k8 * r2[q + 2];
  }
  for (int64_t y = 0; y < h; ++y) std::copy(flat + y * wp, flat + y * wp + w, out + y * w);
}

// dk[t] += sum over y, x of g[y][x] * pad[y + dy][x + dx]. g is laid out in padded
// coordinates (gflat, its 2 extra columns per row zero) so each tap is one long loop; each
// tap's products go to 16 running partial sums (vectorisable), added in double at the end.
template <typename T>
inline void weight_grad_plane(const T* __restrict__ pad, const T* __restrict__ g, int64_t h, int64_t w,
                              T* __restrict__ gflat /* [h * wp] */, double* __restrict__ dk) {
  const int64_t wp = w + 2, len = h * wp;
  for (int64_t y = 0; y < h; ++y) std::copy(g + y * w, g + (y + 1) * w, gflat + y * wp);
  constexpr int kLanes = 16;
  for (int t = 0; t < 9; ++t) {
    const T* r = pad + (t / 3) * wp + (t % 3);
    T part[kLanes] = {};
    int64_t q = 0;
    for (; q + kLanes <= len; q += kLanes) {
      for (int j = 0; j < kLanes; ++j) part[j] += gflat[q + j] * r[q + j];
    }
    double sum = 0;
    for (; q < len; ++q) sum += static_cast<double>(gflat[q] * r[q]);
    for (int j = 0; j < kLanes; ++j) sum += part[j];
    dk[t] += sum;
  }
}

// float32 is what training runs: compiled for AVX-512, AVX2 and baseline x86-64, chosen at load
// time (the binary stays portable). float64 (tests) takes the baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SELFSUP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SELFSUP_CLONES
#endif

SELFSUP_CLONES void forward_plane_f32(const float* pad, const float* k, float* out, float* flat, int64_t h,
                                      int64_t w) {
  forward_plane(pad, k, out, flat, h, w);
}
SELFSUP_CLONES void weight_grad_plane_f32(const float* pad, const float* g, int64_t h, int64_t w, float* acc,
                                          double* dk) {
  weight_grad_plane(pad, g, h, w, acc, dk);
}
void forward_plane_any(const float* pad, const float* k, float* out, float* flat, int64_t h, int64_t w) {
  forward_plane_f32(pad, k, out, flat, h, w);
}
void forward_plane_any(const double* pad, const double* k, double* out, double* flat, int64_t h, int64_t w) {
  forward_plane(pad, k, out, flat, h, w);
}
void weight_grad_plane_any(const float* pad, const float* g, int64_t h, int64_t w, float* acc, double* dk) {
  weight_grad_plane_f32(pad, g, h, w, acc, dk);
}
void weight_grad_plane_any(const double* pad, const double* g, int64_t h, int64_t w, double* acc, double* dk) {
  weight_grad_plane(pad, g, h, w, acc, dk);
}

struct StemConvFn : torch::autograd::Function<StemConvFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), c = weight.size(0);
    auto out = torch::empty({n, c, h, w}, x.options());
    auto k = weight.contiguous();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stem_conv3x3", [&] {
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pk = k.data_ptr<scalar_t>();
      scalar_t* po = out.data_ptr<scalar_t>();
      at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        // One spare padded row: the flat loop's last taps read 2 past the padded plane.
        std::vector<scalar_t> pad(static_cast<size_t>((h + 3) * (w + 2)), scalar_t(0));
        std::vector<scalar_t> flat(static_cast<size_t>(h * (w + 2)));
        for (int64_t i = begin; i < end; ++i) {
          pad_plane(px + i * h * w, h, w, pad.data());
          for (int64_t co = 0; co < c; ++co) {
            forward_plane_any(pad.data(), pk + co * 9, po + (i * c + co) * h * w, flat.data(), h, w);
          }
        }
      });
    });
    ctx->save_for_backward({x});
    ctx->saved_data["channels"] = c;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    const int64_t c = ctx->saved_data["channels"].toInt();
    auto g = grads[0].contiguous();
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    // Each thread sums its images' contributions in double; the threads' sums are added at the end.
    const int64_t threads = at::get_num_threads();
    std::vector<double> partial(static_cast<size_t>(threads * c * 9), 0.0);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stem_conv3x3_backward", [&] {
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pg = g.data_ptr<scalar_t>();
      at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        double* dk = partial.data() + at::get_thread_num() * c * 9;
        std::vector<scalar_t> pad(static_cast<size_t>((h + 3) * (w + 2)), scalar_t(0));
        std::vector<scalar_t> gflat(static_cast<size_t>(h * (w + 2)), scalar_t(0));  // its extra columns stay 0
        for (int64_t i = begin; i < end; ++i) {
          pad_plane(px + i * h * w, h, w, pad.data());
          for (int64_t co = 0; co < c; ++co) {
            weight_grad_plane_any(pad.data(), pg + (i * c + co) * h * w, h, w, gflat.data(), dk + co * 9);
          }
        }
      });
    });
    auto dk = torch::zeros({c * 9}, torch::kFloat64);
    double* pd = dk.data_ptr<double>();
    for (int64_t t = 0; t < threads; ++t) {
      for (int64_t j = 0; j < c * 9; ++j) pd[j] += partial[static_cast<size_t>(t * c * 9 + j)];
    }
    return {torch::Tensor(), dk.to(x.scalar_type()).view({c, 1, 3, 3})};
  }
};

}  // namespace

torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight) {
  TORCH_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 1, "stem_conv3x3: expected images [N, 1, H, W], got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
  TORCH_CHECK(weight.dim() == 4 && weight.size(1) == 1 && weight.size(2) == 3 && weight.size(3) == 3,
              "stem_conv3x3: expected a weight [C, 1, 3, 3], got ", weight.sizes());
  const auto t = x.scalar_type();
  const bool fast = x.device().is_cpu() && weight.device().is_cpu() && x.is_contiguous() &&
                    (t == torch::kFloat32 || t == torch::kFloat64) && weight.scalar_type() == t && !x.requires_grad() &&
                    !nets::detail::autocast_on();
  if (!fast) return torch::conv2d(x, weight, {}, 1, 1);
  return StemConvFn::apply(x, weight);
}

}  // namespace selfsup::functional
