#pragma once
// Helpers for the loss tests: seeded float64 inputs, plain-C++ vector maths for the slow loop
// references (so that a reference never reuses the torch ops it is meant to check), and an
// assertion that an error names what was wrong.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace selfsup::testing {

using Row = std::vector<double>;
using Rows = std::vector<Row>;

/// Standard-normal float64 tensor drawn from its own seeded generator.
inline torch::Tensor randn64(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, gen, torch::dtype(torch::kFloat64));
}

/// Uniform [lo, hi) float64 tensor drawn from its own seeded generator.
inline torch::Tensor uniform64(at::IntArrayRef shape, double lo, double hi, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::rand(shape, gen, torch::dtype(torch::kFloat64)) * (hi - lo) + lo;
}

/// Class labels [n] uniform in [0, classes), int64, drawn from their own seeded generator.
inline torch::Tensor random_labels(int64_t n, int64_t classes, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, classes, {n}, gen, torch::kLong);
}

/// The rows of a 2-D tensor as plain doubles.
inline Rows to_rows(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  TORCH_CHECK(c.dim() == 2, "to_rows needs a 2-D tensor");
  auto a = c.accessor<double, 2>();
  Rows rows(c.size(0), Row(c.size(1)));
  for (int64_t i = 0; i < c.size(0); ++i) {
    for (int64_t j = 0; j < c.size(1); ++j) rows[i][j] = a[i][j];
  }
  return rows;
}

inline double dot(const Row& a, const Row& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

inline double cosine(const Row& a, const Row& b) {
  return dot(a, b) / (std::sqrt(dot(a, a)) * std::sqrt(dot(b, b)));
}

inline double value(const torch::Tensor& t) { return t.item<double>(); }

/// softmax(l / t) of one row, computed stably in float64.
inline Row softmax(const Row& l, double t = 1.0) {
  double mx = l[0] / t, z = 0;
  for (double v : l) mx = std::max(mx, v / t);
  Row p(l.size());
  for (size_t c = 0; c < l.size(); ++c) z += (p[c] = std::exp(l[c] / t - mx));
  for (double& v : p) v /= z;
  return p;
}

/// Rows of x scaled to unit L2 norm.
inline torch::Tensor unit_rows(const torch::Tensor& x) { return x / x.norm(2, 1, true); }

/// Runs fn and expects a c10::Error whose message contains every fragment.
template <class Fn>
void expect_error_mentions(Fn&& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected a c10::Error mentioning " << *fragments.begin();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    for (const auto& f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' missing from: " << msg;
    }
  }
}

}  // namespace selfsup::testing
