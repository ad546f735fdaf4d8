// cpu::max_pool2x2 (cpu_kernels.h says why).
#include "cpu_kernels.h"
#include "kernel_util.h"

namespace selfsup::nets::cpu {

namespace {

// The forward keeps only the maxima (window_max): a per-window index, what torch keeps, stopped
// the loop from vectorising and cost 6x more than the max itself. The backward finds each
// window's winner again from the saved input and output, by torch's rule: the first element
// equal to a finite maximum, the last NaN of a NaN one.

// One row of windows: x0 / x1 the two input rows, m the maxima, g their gradients, d0 / d1 the
// input gradient rows. A function of its own with restrict pointers: inlined into the dispatch
// and parallel_for lambdas, the compiler could not rule out aliasing and ran it 3x slower.
template <typename scalar_t, typename A>
void backward_row(const scalar_t* __restrict__ x0, const scalar_t* __restrict__ x1, const scalar_t* __restrict__ m,
                  const scalar_t* __restrict__ g, scalar_t* __restrict__ d0, scalar_t* __restrict__ d1, int64_t wo) {
  const scalar_t zero(0);
  // The winner of a finite maximum: the first element equal to it. The gradient passes down the
  // window until an element takes it, by selects on values loaded up front (branches mispredict
  // on real activations).
  for (int64_t j = 0; j < wo; ++j) {
    const A a = x0[2 * j], b = x0[2 * j + 1], cc = x1[2 * j], mj = m[j];
    const scalar_t gj = g[j];
    const scalar_t ga = a == mj ? gj : zero, left_b = a == mj ? zero : gj;
    const scalar_t gb = b == mj ? left_b : zero, left_c = b == mj ? zero : left_b;
    const scalar_t gc = cc == mj ? left_c : zero, gd = cc == mj ? zero : left_c;
    d0[2 * j] = ga;
    d0[2 * j + 1] = gb;
    d1[2 * j] = gc;
    d1[2 * j + 1] = gd;
  }
  // A NaN maximum: the last NaN of its window. Rare, so checked apart (folded into the loop
  // above, the test made it 2.7x slower).
  bool any_nan = false;
  for (int64_t j = 0; j < wo; ++j) any_nan |= static_cast<A>(m[j]) != static_cast<A>(m[j]);
  if (!any_nan) return;
  for (int64_t j = 0; j < wo; ++j) {
    if (!(static_cast<A>(m[j]) != static_cast<A>(m[j]))) continue;
    scalar_t* slot[4] = {d0 + 2 * j, d0 + 2 * j + 1, d1 + 2 * j, d1 + 2 * j + 1};
    const scalar_t* val[4] = {x0 + 2 * j, x0 + 2 * j + 1, x1 + 2 * j, x1 + 2 * j + 1};
    int last = 3;
    while (last > 0 && !(static_cast<A>(*val[last]) != static_cast<A>(*val[last]))) --last;
    for (int k = 0; k < 4; ++k) *slot[k] = k == last ? g[j] : zero;
  }
}

struct MaxPool2x2Fn : torch::autograd::Function<MaxPool2x2Fn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const int64_t ho = h / 2, wo = w / 2;
    auto y = torch::empty({n, c, ho, wo}, x.options());
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "max_pool2x2", [&] {
      // bf16 compares as float: convert once per element.
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      scalar_t* py = y.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          for (int64_t i = 0; i < ho; ++i) {
            const scalar_t* r0 = px + p * h * w + 2 * i * w;
            const scalar_t* r1 = r0 + w;
            scalar_t* out = py + (p * ho + i) * wo;
            for (int64_t j = 0; j < wo; ++j) {
              out[j] = static_cast<scalar_t>(window_max<A>(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]));
            }
          }
        }
      });
    });
    ctx->save_for_backward({x, y});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &y = saved[1];
    auto dy = grads[0].contiguous();
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), ho = h / 2, wo = w / 2;
    // An odd last row or column is outside every window: only then does dx need zeroing.
    auto dx = (h % 2 || w % 2) ? torch::zeros_like(x) : torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES_AND(at::ScalarType::BFloat16, x.scalar_type(), "max_pool2x2_backward", [&] {
      using A = Acc<scalar_t>;
      const scalar_t* px = x.data_ptr<scalar_t>();
      const scalar_t* py = y.data_ptr<scalar_t>();
      const scalar_t* pdy = dy.data_ptr<scalar_t>();
      scalar_t* pdx = dx.data_ptr<scalar_t>();
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
          for (int64_t i = 0; i < ho; ++i) {
            const int64_t row = p * h * w + 2 * i * w, o = (p * ho + i) * wo;
            const scalar_t *x0 = px + row, *x1 = x0 + w;
            scalar_t *d0 = pdx + row, *d1 = d0 + w;
            backward_row<scalar_t, A>(x0, x1, py + o, pdy + o, d0, d1, wo);
          }
        }
      });
    });
    return {dx};
  }
};

}  // namespace

torch::Tensor max_pool2x2(const torch::Tensor& x) { return MaxPool2x2Fn::apply(x); }

}  // namespace selfsup::nets::cpu
