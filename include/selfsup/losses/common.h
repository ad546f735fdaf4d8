#pragma once
// Building blocks shared by the self-supervised losses: argument checks with uniform messages,
// the precision policy, and the few tensor pieces several losses reuse.
#include <torch/torch.h>

#include <cstdint>

namespace selfsup::losses::detail {

/// Throws unless x is a floating-point [N, D] matrix with N >= min_rows and D >= 1. The message
/// reads "<fn>: <name> must be ..., got ..." so a caller knows which argument is wrong.
void check_matrix(const torch::Tensor& x, const char* fn, const char* name, int64_t min_rows);

/// check_matrix on both views, plus equal shapes, dtypes and devices (the two views of one batch).
void check_views(const torch::Tensor& a, const torch::Tensor& b, const char* fn, const char* name_a,
                 const char* name_b, int64_t min_rows);

/// Throws unless v is a defined 1-D tensor of `rows` entries on `device`: the per-sample labels,
/// masks and indices that accompany an [N, ...] batch.
void check_per_sample(const torch::Tensor& v, int64_t rows, const torch::Device& device,
                      const char* fn, const char* name);

/// Throws unless value is finite and > 0 (temperatures, scales).
void check_positive(double value, const char* fn, const char* name);

/// Throws unless value is finite and >= 0 (loss weights).
void check_non_negative(double value, const char* fn, const char* name);

/// bf16/fp16 inputs are upcast to float32: log-softmax, batch statistics and sums of D^2 squared
/// correlations lose too much in 8 mantissa bits. float32/float64 are used as they are, so the
/// loss comes back in float32 for reduced-precision inputs and in the input dtype otherwise.
torch::Tensor to_compute_dtype(const torch::Tensor& x);

/// Rows scaled to unit L2 norm (torch's F.normalize, eps 1e-12), in the compute dtype.
torch::Tensor normalize_rows(const torch::Tensor& x);

/// cos(a_i, b_i) for every row i, in the compute dtype: [N].
torch::Tensor row_cosine(const torch::Tensor& a, const torch::Tensor& b);

/// Cosine-similarity logits n(z) n(z)^T / temperature of the stacked views z [M, D], with the
/// diagonal set to -inf: an anchor is never its own candidate, and masking (rather than
/// subtracting a constant) removes it from the softmax exactly.
torch::Tensor self_excluded_logits(const torch::Tensor& z, double temperature);

/// sum_{i != j} m_ij^2 of a square matrix (the decorrelation terms of Barlow Twins and VICReg).
torch::Tensor off_diagonal_square_sum(const torch::Tensor& m);

}  // namespace selfsup::losses::detail
