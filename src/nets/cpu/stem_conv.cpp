// cpu::stem_conv3x3, the grayscale first layer (cpu_kernels.h says why).
#include "cpu_kernels.h"
#include "kernel_util.h"

#include <cstring>
#include <vector>

namespace selfsup::nets::cpu {

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
SELFSUP_ALWAYS_INLINE inline void forward_plane(const T* __restrict__ pad, const T* __restrict__ k, T* __restrict__ out,
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
SELFSUP_ALWAYS_INLINE inline void weight_grad_plane(const T* __restrict__ pad, const T* __restrict__ g, int64_t h, int64_t w,
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

// float32 is what training runs: in cpu_isa()'s version (the binary stays portable). float64
// (tests) takes the baseline.
void forward_plane_f32(const float* pad, const float* k, float* out, float* flat, int64_t h, int64_t w) {
  call_cloned([&]() SELFSUP_ALWAYS_INLINE { forward_plane(pad, k, out, flat, h, w); });
}
void weight_grad_plane_f32(const float* pad, const float* g, int64_t h, int64_t w, float* acc, double* dk) {
  call_cloned([&]() SELFSUP_ALWAYS_INLINE { weight_grad_plane(pad, g, h, w, acc, dk); });
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

// nChw16c output (functional::Layout): 16 output channels at a time, as outer products. Each
// tap's input pixel is broadcast and multiplied by the 16 channels' weights for that tap
// (k16 [9][16]). The 16 lanes are a GCC vector type: left to itself, the compiler vectorised the
// pixel loop instead, with strided loads, and ran 3x slower than the plane kernel.
// (An alias template would drop the attribute: a typedef in a class template keeps it.)
template <typename T>
struct Lanes16Of {
  typedef T type __attribute__((vector_size(16 * sizeof(T))));
};
template <typename T>
using Lanes16 = typename Lanes16Of<T>::type;

// Unaligned loads; through a reference, since returning a vector by value warns of an ABI
// change in the baseline clone.
template <typename T>
SELFSUP_ALWAYS_INLINE inline void load16(Lanes16<T>& v, const T* p) {
  std::memcpy(&v, p, sizeof v);
}

template <typename T>
SELFSUP_ALWAYS_INLINE inline void forward_block16(const T* __restrict__ pad, const T* __restrict__ k16,
                                                  T* __restrict__ out, int64_t h, int64_t w) {
  const int64_t wp = w + 2;
  Lanes16<T> k[9];
  for (int t = 0; t < 9; ++t) load16(k[t], k16 + t * 16);
  for (int64_t y = 0; y < h; ++y) {
    const T *r0 = pad + y * wp, *r1 = r0 + wp, *r2 = r1 + wp;
    for (int64_t x = 0; x < w; ++x) {
      // The plane kernel's order of terms, so that both layouts round alike.
      const Lanes16<T> acc = r0[x] * k[0] + r0[x + 1] * k[1] + r0[x + 2] * k[2] + r1[x] * k[3] + r1[x + 1] * k[4] +
                             r1[x + 2] * k[5] + r2[x] * k[6] + r2[x + 1] * k[7] + r2[x + 2] * k[8];
      std::memcpy(out + (y * w + x) * 16, &acc, sizeof acc);
    }
  }
}

// The weight gradient from a blocked output gradient: dk16 [9][16] += sum over pixels of the
// tap's input pixel times the 16 channels' gradients there (float partial sums per sample,
// added in double by the caller, as the plane version does).
template <typename T>
SELFSUP_ALWAYS_INLINE inline void weight_grad_block16(const T* __restrict__ pad, const T* __restrict__ g, int64_t h,
                                                      int64_t w, T* __restrict__ dk16) {
  const int64_t wp = w + 2;
  Lanes16<T> acc[9] = {};
  for (int64_t y = 0; y < h; ++y) {
    const T *r0 = pad + y * wp, *r1 = r0 + wp, *r2 = r1 + wp;
    for (int64_t x = 0; x < w; ++x) {
      Lanes16<T> gv;
      load16(gv, g + (y * w + x) * 16);
      acc[0] += r0[x] * gv;
      acc[1] += r0[x + 1] * gv;
      acc[2] += r0[x + 2] * gv;
      acc[3] += r1[x] * gv;
      acc[4] += r1[x + 1] * gv;
      acc[5] += r1[x + 2] * gv;
      acc[6] += r2[x] * gv;
      acc[7] += r2[x + 1] * gv;
      acc[8] += r2[x + 2] * gv;
    }
  }
  for (int t = 0; t < 9; ++t) {
    Lanes16<T> sum;
    load16(sum, dk16 + t * 16);
    sum += acc[t];
    std::memcpy(dk16 + t * 16, &sum, sizeof sum);
  }
}

// The weight gradient's sums over the batch: each thread adds its images' contributions into its
// own `size` doubles (add(begin, end, dk) for images [begin, end)), and the threads' sums are
// added at the end, so the result does not depend on the order threads finish in.
template <typename Add>
torch::Tensor sum_over_images(int64_t n, int64_t size, const Add& add) {
  const int64_t threads = at::get_num_threads();
  std::vector<double> partial(static_cast<size_t>(threads * size), 0.0);
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    add(begin, end, partial.data() + at::get_thread_num() * size);
  });
  auto total = torch::zeros({size}, torch::kFloat64);
  double* pt = total.data_ptr<double>();
  for (int64_t t = 0; t < threads; ++t) {
    for (int64_t j = 0; j < size; ++j) pt[j] += partial[static_cast<size_t>(t * size + j)];
  }
  return total;
}

struct StemConvFn : torch::autograd::Function<StemConvFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, bool blocked) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), c = weight.size(0);
    ctx->save_for_backward({x});
    ctx->saved_data["channels"] = c;
    ctx->saved_data["blocked"] = blocked;
    if (blocked) return forward_blocked(x, weight);
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
    return out;
  }

  // Output [N, C / 16, H, W, 16]; the taps regrouped as [C / 16][9][16].
  static torch::Tensor forward_blocked(const torch::Tensor& x, const torch::Tensor& weight) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), c = weight.size(0), groups = c / 16;
    auto out = torch::empty({n, groups, h, w, 16}, x.options());
    auto k16 = weight.reshape({groups, 16, 9}).transpose(1, 2).contiguous();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stem_conv3x3_blocked", [&] {
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pk = k16.data_ptr<scalar_t>();
      scalar_t* po = out.data_ptr<scalar_t>();
      at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> pad(static_cast<size_t>((h + 3) * (w + 2)), scalar_t(0));
        for_each_cloned(begin, end, [&](int64_t i) SELFSUP_ALWAYS_INLINE {
          pad_plane(px + i * h * w, h, w, pad.data());
          for (int64_t g = 0; g < groups; ++g) {
            forward_block16(pad.data(), pk + g * 144, po + (i * groups + g) * h * w * 16, h, w);
          }
        });
      });
    });
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    const int64_t c = ctx->saved_data["channels"].toInt();
    auto g = grads[0].contiguous();
    if (ctx->saved_data["blocked"].toBool()) return {torch::Tensor(), backward_blocked(x, g, c), torch::Tensor()};
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    torch::Tensor dk;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stem_conv3x3_backward", [&] {
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pg = g.data_ptr<scalar_t>();
      dk = sum_over_images(n, c * 9, [&](int64_t begin, int64_t end, double* dk) {
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
    return {torch::Tensor(), dk.to(x.scalar_type()).view({c, 1, 3, 3}), torch::Tensor()};
  }

  static torch::Tensor backward_blocked(const torch::Tensor& x, const torch::Tensor& g, int64_t c) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3), groups = c / 16;
    torch::Tensor dk;  // [group][9][16]
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "stem_conv3x3_blocked_backward", [&] {
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* pg = g.data_ptr<scalar_t>();
      dk = sum_over_images(n, c * 9, [&](int64_t begin, int64_t end, double* dk) {
        std::vector<scalar_t> pad(static_cast<size_t>((h + 3) * (w + 2)), scalar_t(0));
        std::vector<scalar_t> acc(144);
        for_each_cloned(begin, end, [&](int64_t i) SELFSUP_ALWAYS_INLINE {
          pad_plane(px + i * h * w, h, w, pad.data());
          for (int64_t grp = 0; grp < groups; ++grp) {
            std::fill(acc.begin(), acc.end(), scalar_t(0));
            weight_grad_block16(pad.data(), pg + (i * groups + grp) * h * w * 16, h, w, acc.data());
            for (int j = 0; j < 144; ++j) dk[grp * 144 + j] += acc[j];
          }
        });
      });
    });
    // [group][9][16] back to the weight's [C, 1, 3, 3].
    return dk.view({groups, 9, 16}).transpose(1, 2).reshape({c, 1, 3, 3}).to(x.scalar_type());
  }
};

}  // namespace

torch::Tensor stem_conv3x3(const torch::Tensor& x, const torch::Tensor& weight, Layout layout) {
  return StemConvFn::apply(x, weight, layout == Layout::kBlocked16);
}

}  // namespace selfsup::nets::cpu
