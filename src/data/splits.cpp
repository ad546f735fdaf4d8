#include "selfsup/data/splits.h"

#include <c10/util/Exception.h>

#include <algorithm>

#include "selfsup/core/runtime.h"

namespace selfsup::data {
namespace {

// Splits are computed on the CPU (cheap, and identical on every device) and returned on the
// labels' device.
torch::Tensor cpu_labels(const torch::Tensor& labels, const char* who) {
  TORCH_CHECK(labels.defined(), who, ": labels are undefined");
  TORCH_CHECK(labels.dim() == 1, who, ": labels must be 1-D [N], got shape ", labels.sizes());
  TORCH_CHECK(c10::isIntegralType(labels.scalar_type(), /*includeBool=*/false), who,
              ": labels must be an integer tensor, got ", labels.scalar_type());
  auto lab = labels.to(torch::kCPU, torch::kLong).contiguous();
  if (lab.numel() > 0) {
    const int64_t lo = lab.min().item<int64_t>();
    TORCH_CHECK(lo >= 0, who, ": labels must be >= 0, got ", lo);
  }
  return lab;
}

torch::Tensor indices_where(const torch::Tensor& mask, const torch::Device& device) {
  return mask.nonzero().squeeze(1).to(device);
}

struct Stratified {
  torch::Tensor taken, rest;
};

// Takes exactly k examples of every class that occurs, in the order of one seeded permutation.
Stratified stratified_take(const torch::Tensor& labels, int64_t k, uint64_t seed, const char* who,
                           const char* arg) {
  TORCH_CHECK(k >= 0, who, ": ", arg, " must be >= 0, got ", k);
  const auto lab = cpu_labels(labels, who);
  const int64_t n = lab.numel();
  const auto counts = n ? torch::bincount(lab) : torch::zeros({0}, torch::kLong);
  const auto* cnt = counts.data_ptr<int64_t>();
  for (int64_t c = 0; c < counts.numel(); ++c) {
    TORCH_CHECK(cnt[c] == 0 || cnt[c] >= k, who, ": class ", c, " has only ", cnt[c],
                " examples, fewer than ", arg, " = ", k);
  }
  auto gen = selfsup::make_generator(seed);
  const auto perm = torch::randperm(n, gen, torch::kLong);
  auto mask = torch::zeros({n}, torch::kBool);
  std::vector<int64_t> taken(counts.numel(), 0);
  const auto* p = perm.data_ptr<int64_t>();
  const auto* y = lab.data_ptr<int64_t>();
  auto* m = mask.data_ptr<bool>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t idx = p[i];
    if (taken[y[idx]] < k) {
      ++taken[y[idx]];
      m[idx] = true;
    }
  }
  return {indices_where(mask, labels.device()), indices_where(~mask, labels.device())};
}

}  // namespace

LabeledSplit labeled_subset(const torch::Tensor& labels, int64_t per_class, uint64_t seed) {
  auto s = stratified_take(labels, per_class, seed, "labeled_subset", "per_class");
  return {s.taken, s.rest};
}

TrainValSplit validation_split(const torch::Tensor& labels, int64_t val_per_class, uint64_t seed) {
  auto s = stratified_take(labels, val_per_class, seed, "validation_split", "val_per_class");
  return {s.rest, s.taken};
}

SemiSplit semi_split(const torch::Tensor& labels, int64_t per_class, int64_t val_per_class, uint64_t seed) {
  TORCH_CHECK(per_class > 0, "data.labels_per_class must be positive, got ", per_class);
  TORCH_CHECK(val_per_class > 0, "data.val_per_class must be positive, got ", val_per_class);
  // The validation split comes first, so it never leaks into the labeled or unlabeled streams.
  const auto tv = validation_split(labels, val_per_class, derive_seed(seed, "semi-val"));
  const auto ls = labeled_subset(labels.index_select(0, tv.train), per_class, derive_seed(seed, "semi-labeled"));
  return {tv.train.index_select(0, ls.labeled), tv.train.index_select(0, ls.unlabeled), tv.val};
}

}  // namespace selfsup::data
