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

torch::Tensor binary_labels(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes) {
  cpu_labels(labels, "binary_labels");
  TORCH_CHECK(!positive_classes.empty(), "binary_labels: positive_classes is empty");
  auto pos = torch::zeros(labels.sizes(), labels.options().dtype(torch::kBool));
  for (int64_t c : positive_classes) {
    TORCH_CHECK(c >= 0, "binary_labels: positive class must be >= 0, got ", c);
    pos |= labels == c;
  }
  return pos.to(torch::kLong);
}

PUSplit pu_split(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes,
                 int64_t n_labeled, uint64_t seed) {
  const auto lab = cpu_labels(labels, "pu_split");
  TORCH_CHECK(n_labeled >= 1, "pu_split: n_labeled must be >= 1, got ", n_labeled);
  const auto positive = binary_labels(lab, positive_classes).to(torch::kBool);
  for (int64_t c : positive_classes) {
    TORCH_CHECK((lab == c).any().item<bool>(), "pu_split: positive class ", c,
                " does not occur in the labels");
  }
  const auto pos_idx = positive.nonzero().squeeze(1);
  const int64_t n = lab.numel(), n_pos = pos_idx.numel();
  TORCH_CHECK(n_labeled <= n_pos, "pu_split: n_labeled = ", n_labeled, " but there are only ", n_pos,
              " positives");
  TORCH_CHECK(n_labeled < n, "pu_split: n_labeled = ", n_labeled,
              " leaves no unlabeled examples out of ", n);

  auto gen = selfsup::make_generator(seed);
  const auto chosen = pos_idx.index_select(0, torch::randperm(n_pos, gen, torch::kLong).narrow(0, 0, n_labeled));
  auto targets = torch::zeros({n}, torch::kLong);
  targets.index_fill_(0, chosen, 1);

  PUSplit s;
  s.labeled = indices_where(targets == 1, labels.device());
  s.unlabeled = indices_where(targets == 0, labels.device());
  s.targets = targets.to(labels.device());
  s.prior = static_cast<double>(n_pos - n_labeled) / static_cast<double>(n - n_labeled);
  return s;
}

}  // namespace selfsup::data
