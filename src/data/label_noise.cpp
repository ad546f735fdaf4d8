#include "selfsup/data/label_noise.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <cmath>

#include "selfsup/core/runtime.h"

namespace selfsup::data {

LabelNoise label_noise_from_name(const std::string& name) {
  if (name == "none") return LabelNoise::kNone;
  if (name == "symmetric") return LabelNoise::kSymmetric;
  if (name == "pairflip") return LabelNoise::kPairFlip;
  TORCH_CHECK(false, "data.label_noise must be none, symmetric or pairflip, got '", name, "'");
}

const char* label_noise_name(LabelNoise noise) {
  switch (noise) {
    case LabelNoise::kNone: return "none";
    case LabelNoise::kSymmetric: return "symmetric";
    case LabelNoise::kPairFlip: return "pairflip";
  }
  return "?";
}

torch::Tensor corrupt_labels(const torch::Tensor& labels, int64_t num_classes, const LabelNoiseOptions& o) {
  TORCH_CHECK(std::isfinite(o.rate()) && o.rate() >= 0 && o.rate() < 1,
              "data.noise_rate must be in [0, 1), got ", o.rate());
  TORCH_CHECK(labels.defined() && labels.dim() == 1 && labels.scalar_type() == torch::kLong,
              "corrupt_labels: labels must be int64 [N], got ",
              labels.defined() ? labels.sizes() : torch::IntArrayRef{});
  if (o.type() == LabelNoise::kNone || o.rate() == 0 || labels.numel() == 0) return labels.clone();
  TORCH_CHECK(num_classes >= 2, "label noise needs at least 2 classes, got ", num_classes);
  const auto y = labels.to(torch::kCPU);
  const int64_t lo = y.min().item<int64_t>(), hi = y.max().item<int64_t>();
  TORCH_CHECK(lo >= 0 && hi < num_classes, "corrupt_labels: labels must be in [0, ", num_classes, "), got [", lo,
              ", ", hi, "]");
  // Drawn on the CPU from one seeded generator: the same noisy labels on every device.
  auto gen = make_generator(o.seed());
  const auto flip = torch::rand({y.numel()}, gen, torch::kFloat64) < o.rate();
  const auto offset = o.type() == LabelNoise::kSymmetric
                          ? torch::randint(1, num_classes, {y.numel()}, gen, torch::kLong)
                          : torch::ones({y.numel()}, torch::kLong);
  const auto noisy = torch::where(flip, (y + offset).remainder(num_classes), y);
  return noisy.to(labels.device());
}

}  // namespace selfsup::data
