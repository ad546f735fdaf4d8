#include "selfsup/augment/text.h"

#include <cmath>

namespace selfsup::augment::text {
namespace {

void check_mask(const torch::Tensor& mask, const char* fn) {
  TORCH_CHECK(mask.dim() == 2 && mask.scalar_type() == torch::kBool, fn, ": mask must be bool [B, L], got ",
              mask.scalar_type(), " ", mask.sizes());
}

void check_rate(double rate, const char* fn) {
  TORCH_CHECK(std::isfinite(rate) && rate >= 0 && rate < 1, fn, ": rate must be in [0, 1), got ", rate);
}

/// Row lengths (tokens are a prefix of every row).
std::vector<int64_t> lengths(const torch::Tensor& mask) {
  const auto n = mask.to(torch::kCPU).sum(1).to(torch::kLong).contiguous();
  return {n.data_ptr<int64_t>(), n.data_ptr<int64_t>() + n.numel()};
}

}  // namespace

torch::Tensor shuffled_positions(const torch::Tensor& mask, torch::Generator& gen) {
  check_mask(mask, "shuffled_positions");
  const int64_t b = mask.size(0), l = mask.size(1);
  auto pos = torch::arange(l, torch::kLong).repeat({b, 1}).contiguous();
  auto pa = pos.accessor<int64_t, 2>();
  const auto len = lengths(mask);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t inner = len[i] - 2;
    if (inner < 2) continue;
    const auto perm = torch::randperm(inner, gen, torch::kLong) + 1;
    for (int64_t j = 0; j < inner; ++j) pa[i][j + 1] = perm[j].item<int64_t>();
  }
  return pos.to(mask.device());
}

torch::Tensor token_cutoff_mask(const torch::Tensor& mask, double rate, torch::Generator& gen) {
  check_mask(mask, "token_cutoff_mask");
  check_rate(rate, "token_cutoff_mask");
  const int64_t b = mask.size(0), l = mask.size(1);
  auto cut = torch::zeros({b, l}, torch::kBool);
  auto ca = cut.accessor<bool, 2>();
  const auto len = lengths(mask);
  for (int64_t i = 0; i < b; ++i) {
    if (rate == 0 || len[i] < 2) continue;
    const int64_t k = std::min(len[i] - 1, std::max<int64_t>(1, std::llround(rate * static_cast<double>(len[i]))));
    const auto perm = torch::randperm(len[i], gen, torch::kLong);
    for (int64_t j = 0; j < k; ++j) ca[i][perm[j].item<int64_t>()] = true;
  }
  return cut.to(mask.device());
}

torch::Tensor feature_cutoff_mask(int64_t batch, int64_t dim, double rate, torch::Generator& gen,
                                  const torch::Device& device) {
  check_rate(rate, "feature_cutoff_mask");
  TORCH_CHECK(batch >= 0 && dim >= 1, "feature_cutoff_mask: expected batch >= 0 and dim >= 1, got ", batch, ", ", dim);
  auto cut = torch::zeros({batch, dim}, torch::kBool);
  const int64_t k = std::llround(rate * static_cast<double>(dim));
  for (int64_t i = 0; i < batch && k > 0; ++i) {
    cut[i].index_fill_(0, torch::randperm(dim, gen, torch::kLong).slice(0, 0, k), true);
  }
  return cut.to(device);
}

torch::Tensor cut_tokens(const torch::Tensor& e, const torch::Tensor& cut) {
  TORCH_CHECK(e.dim() == 3 && cut.sizes() == e.sizes().slice(0, 2), "cut_tokens: expected embeddings [B, L, D] and a "
              "cut [B, L], got ", e.sizes(), " and ", cut.sizes());
  return e.masked_fill(cut.unsqueeze(2), 0);
}

torch::Tensor cut_features(const torch::Tensor& e, const torch::Tensor& cut) {
  TORCH_CHECK(e.dim() == 3 && cut.dim() == 2 && cut.size(0) == e.size(0) && cut.size(1) == e.size(2),
              "cut_features: expected embeddings [B, L, D] and a cut [B, D], got ", e.sizes(), " and ", cut.sizes());
  return e.masked_fill(cut.unsqueeze(1), 0);
}

}  // namespace selfsup::augment::text
