#pragma once
// Helpers shared by the augment sources (private to src/augment).
#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace selfsup::augment::detail {

/// Checks a float batch [B, C, H, W] with C = 1 or 3, naming `op` in the message.
void check_batch(const torch::Tensor& x, const char* op);
void check_probability(double p, const char* op, const char* arg = "p");

/// Random draws on the CPU generator, one per sample, always the same number whatever the data.
torch::Tensor uniform(int64_t n, double lo, double hi, torch::Generator& gen);  // double [n]
torch::Tensor bernoulli_mask(int64_t n, double p, torch::Generator& gen);      // bool [n]

/// A per-sample parameter [n] (any device/dtype) as float [n, 1, 1, 1] on x's device, for
/// broadcasting over a batch.
torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& x);

/// Runs f on the samples selected by `mask` (bool CPU [B]) and puts the results back.
/// f(sub, owned, idx) gets the selected sub-batch, whether it may overwrite it, and the selected
/// indices (int64 CPU, to pick per-sample parameters); it returns the transformed sub-batch (sub
/// itself or a fresh tensor). Returns x untouched when nothing is selected; otherwise x
/// overwritten (inplace) or a fresh tensor.
template <typename F>
torch::Tensor apply_to_subset(const torch::Tensor& x, const torch::Tensor& mask, bool inplace,
                              F&& f) {
  const int64_t batch = x.size(0);
  torch::Tensor idx = mask.nonzero().squeeze(1);
  const int64_t n = idx.numel();
  if (n == 0) return x;
  if (n == batch) return f(x, inplace, idx);
  torch::Tensor didx = idx.to(x.device());
  torch::Tensor y = f(x.index_select(0, didx), true, idx);
  torch::Tensor out = inplace ? x : x.clone();
  out.index_copy_(0, didx, y);
  return out;
}

/// clamp(f * x + (1 - f) * ref, 0, 1) with f float [n, 1, 1, 1] and ref broadcastable to x
/// (undefined ref means 0). Overwrites x when `inplace`.
torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& ref, const torch::Tensor& f4,
                    bool inplace);

/// Hue shift (turns, float [n, 1, 1, 1] on x's device) of a 3-channel batch.
torch::Tensor shift_hue(const torch::Tensor& x, const torch::Tensor& shift4);

}  // namespace selfsup::augment::detail
