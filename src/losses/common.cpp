#include "selfsup/losses/common.h"

#include <cmath>
#include <limits>

namespace selfsup::losses::detail {

namespace F = torch::nn::functional;

void check_matrix(const torch::Tensor& x, const char* fn, const char* name, int64_t min_rows) {
  TORCH_CHECK(x.defined(), fn, ": ", name,
              " must be a defined [N, D] tensor, got an undefined one");
  TORCH_CHECK(x.dim() == 2, fn, ": ", name, " must be a 2-D [N, D] tensor, got shape ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), fn, ": ", name, " must be floating-point, got dtype ",
              x.scalar_type());
  TORCH_CHECK(x.size(0) >= min_rows, fn, ": ", name, " needs at least ", min_rows,
              " rows (samples), got shape ", x.sizes());
  TORCH_CHECK(x.size(1) >= 1, fn, ": ", name, " needs at least one feature column, got shape ",
              x.sizes());
}

void check_views(const torch::Tensor& a, const torch::Tensor& b, const char* fn, const char* name_a,
                 const char* name_b, int64_t min_rows) {
  check_matrix(a, fn, name_a, min_rows);
  check_matrix(b, fn, name_b, min_rows);
  TORCH_CHECK(a.sizes() == b.sizes(), fn, ": ", name_a, " and ", name_b,
              " must have the same shape, got ", name_a, " ", a.sizes(), " and ", name_b, " ",
              b.sizes());
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), fn, ": ", name_a, " and ", name_b,
              " must have the same dtype, got ", a.scalar_type(), " and ", b.scalar_type());
  TORCH_CHECK(a.device() == b.device(), fn, ": ", name_a, " and ", name_b,
              " must be on the same device, got ", a.device(), " and ", b.device());
}

void check_per_sample(const torch::Tensor& v, int64_t rows, const torch::Device& device,
                      const char* fn, const char* name) {
  TORCH_CHECK(v.defined(), fn, ": ", name, " must be a defined [", rows,
              "] tensor, got an undefined one");
  TORCH_CHECK(v.dim() == 1 && v.size(0) == rows, fn, ": ", name, " must have shape [", rows,
              "] (one entry per sample), got shape ", v.sizes());
  TORCH_CHECK(v.device() == device, fn, ": ", name, " must be on device ", device, ", got ",
              v.device());
}

void check_positive(double value, const char* fn, const char* name) {
  TORCH_CHECK(std::isfinite(value) && value > 0, fn, ": ", name,
              " must be a finite number > 0, got ", value);
}

void check_non_negative(double value, const char* fn, const char* name) {
  TORCH_CHECK(std::isfinite(value) && value >= 0, fn, ": ", name,
              " must be a finite number >= 0, got ", value);
}

torch::Tensor to_compute_dtype(const torch::Tensor& x) {
  const auto t = x.scalar_type();
  return (t == torch::kBFloat16 || t == torch::kHalf) ? x.to(torch::kFloat32) : x;
}

torch::Tensor normalize_rows(const torch::Tensor& x) {
  return F::normalize(to_compute_dtype(x), F::NormalizeFuncOptions().p(2).dim(1));
}

torch::Tensor row_cosine(const torch::Tensor& a, const torch::Tensor& b) {
  return (normalize_rows(a) * normalize_rows(b)).sum(1);
}

torch::Tensor self_excluded_logits(const torch::Tensor& z, double temperature) {
  const torch::Tensor zn = normalize_rows(z);
  const torch::Tensor logits = zn.mm(zn.t()) / temperature;
  const torch::Tensor self =
      torch::eye(z.size(0), torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  return logits.masked_fill(self, -std::numeric_limits<double>::infinity());
}

torch::Tensor off_diagonal_square_sum(const torch::Tensor& m) {
  const torch::Tensor diag = torch::eye(
      m.size(0), m.size(1), torch::TensorOptions().dtype(torch::kBool).device(m.device()));
  return m.pow(2).masked_fill(diag, 0).sum();
}

}  // namespace selfsup::losses::detail
