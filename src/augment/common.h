#pragma once
// Helpers shared by the augment sources (private to src/augment).
#include <torch/torch.h>

#include <cstdint>
#include <utility>

#include "selfsup/augment/transforms.h"

namespace selfsup::augment::detail {

/// Checks a float batch [B, C, H, W] with C = 1 or 3, naming `op` in the message.
void check_batch(const torch::Tensor& x, const char* op);
void check_probability(double p, const char* op, const char* arg = "p");

/// Random draws on the CPU generator, one per sample, always the same number whatever the data.
torch::Tensor uniform(int64_t n, double lo, double hi, torch::Generator& gen);  // double [n]
torch::Tensor bernoulli_mask(int64_t n, double p, torch::Generator& gen);       // bool [n]

/// A per-sample parameter [n] (any device/dtype) as float [n, 1, 1, 1] on x's device, for
/// broadcasting over a batch.
torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& x);

/// Runs f on the samples `idx` (int64 CPU [n], increasing, no repeats) and puts the results back.
/// f(sub, owned, idx) gets the selected sub-batch, whether it may overwrite it, and idx (to pick
/// per-sample parameters); it returns the transformed sub-batch (sub itself or a fresh tensor).
/// Returns x untouched when idx is empty; otherwise x overwritten (inplace) or a fresh tensor.
template <typename F>
torch::Tensor apply_to_indices(const torch::Tensor& x, const torch::Tensor& idx, bool inplace,
                               F&& f) {
  const int64_t n = idx.numel();
  if (n == 0) return x;
  if (n == x.size(0)) return f(x, inplace, idx);
  torch::Tensor didx = idx.to(x.device());
  torch::Tensor y = f(x.index_select(0, didx), true, idx);
  torch::Tensor out = inplace ? x : x.clone();
  out.index_copy_(0, didx, y);
  return out;
}

/// apply_to_indices for the samples where `mask` (bool CPU [B]) is true.
template <typename F>
torch::Tensor apply_to_subset(const torch::Tensor& x, const torch::Tensor& mask, bool inplace,
                              F&& f) {
  return apply_to_indices(x, mask.nonzero().squeeze(1), inplace, std::forward<F>(f));
}

/// clamp(f * x + (1 - f) * ref, 0, 1) with f float [n, 1, 1, 1] and ref broadcastable to x
/// (undefined ref means 0). Overwrites x when `inplace`.
torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& ref, const torch::Tensor& f4,
                    bool inplace);

/// Hue shift (turns, float [n, 1, 1, 1] on x's device) of a 3-channel batch.
torch::Tensor shift_hue(const torch::Tensor& x, const torch::Tensor& shift4);

/// The crops with a horizontal flip of probability flip_p fused into the same pass (flip_p < 0:
/// no flip, and nothing drawn for it). The draws are those of the crop then of HorizontalFlip, so
/// a fused pair gives exactly what the two transforms give one after the other.
torch::Tensor random_resized_crop(const torch::Tensor& x, const RandomResizedCropOptions& o,
                                  double flip_p, torch::Generator& gen);
torch::Tensor random_crop(const torch::Tensor& x, const RandomCropOptions& o, double flip_p,
                          torch::Generator& gen);

/// functional::color_jitter with the choice of kernel: per_sample_kernel (CPU only) runs each
/// sample's ops in its order on its own pixels; otherwise a few batched tensor passes per op
/// (any device). Both consume the generator alike and agree to float rounding.
torch::Tensor color_jitter(const torch::Tensor& x, const ColorJitterOptions& o, torch::Generator& gen,
                           bool inplace, bool per_sample_kernel);

}  // namespace selfsup::augment::detail
