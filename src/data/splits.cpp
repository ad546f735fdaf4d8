#include "selfsup/data/splits.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

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

PuUnlabeled pu_unlabeled_from_name(const std::string& name) {
  if (name == "all") return PuUnlabeled::kAll;
  if (name == "rest") return PuUnlabeled::kRest;
  TORCH_CHECK(false, "data.unlabeled must be all (every training image) or rest (the images that are not labeled "
              "positives), got '", name, "'");
}

const char* pu_unlabeled_name(PuUnlabeled u) { return u == PuUnlabeled::kAll ? "all" : "rest"; }

torch::Tensor positive_labels(const torch::Tensor& labels, const std::vector<int64_t>& positive_classes) {
  auto out = torch::zeros_like(labels, torch::kLong);
  for (int64_t c : positive_classes) out.logical_or_(labels == c);
  return out.to(torch::kLong);
}

namespace {

std::string class_list(const std::vector<int64_t>& classes) {
  std::ostringstream s;
  for (size_t i = 0; i < classes.size(); ++i) s << (i ? ", " : "") << classes[i];
  return s.str();
}

// The positive images among `indices` (into `positive`, a 0/1 mask), split into `n` drawn with
// `seed` and the rest; both sorted.
struct PositiveDraw {
  torch::Tensor drawn, rest;
};
PositiveDraw draw_positives(const torch::Tensor& indices, const torch::Tensor& positive, int64_t n, uint64_t seed) {
  const auto pos = indices.index_select(0, positive.index_select(0, indices).nonzero().squeeze(1));
  auto gen = selfsup::make_generator(seed);
  const auto perm = torch::randperm(pos.numel(), gen, torch::kLong);
  const auto drawn = std::get<0>(pos.index_select(0, perm.slice(0, 0, n)).sort());
  auto keep = torch::ones({indices.numel()}, torch::kBool);
  // indices is sorted: the drawn ones are found by binary search.
  keep.index_fill_(0, torch::searchsorted(indices, drawn), false);
  return {drawn, indices.masked_select(keep)};
}

}  // namespace

PuSplit pu_split(const torch::Tensor& labels, int64_t num_classes, const PuSplitOptions& o) {
  const auto lab = cpu_labels(labels, "pu_split");
  const auto& pos = o.positive_classes();
  TORCH_CHECK(!pos.empty(), "data.positive_classes is empty: name at least one class as the positive class");
  std::set<int64_t> seen;
  for (int64_t c : pos) {
    TORCH_CHECK(c >= 0 && c < num_classes, "data.positive_classes: class ", c, " is not a class of this data set (0..",
                num_classes - 1, ")");
    TORCH_CHECK(seen.insert(c).second, "data.positive_classes names class ", c, " twice");
  }
  TORCH_CHECK(static_cast<int64_t>(pos.size()) < num_classes, "data.positive_classes names every class (",
              class_list(pos), "): positive-unlabeled learning needs negatives among the unlabeled images");
  TORCH_CHECK(o.labeled() > 0, "data.labeled_positives must be positive, got ", o.labeled());
  TORCH_CHECK(o.val_per_class() > 0, "data.val_per_class must be positive, got ", o.val_per_class());
  TORCH_CHECK(o.val_labeled() >= 0, "data.val_labeled_positives must be >= 0 (0: the training split's share), got ",
              o.val_labeled());
  const auto positive = positive_labels(lab, pos);

  // The validation split comes first, so neither training set ever holds one of its images.
  const auto tv = validation_split(lab, o.val_per_class(), derive_seed(o.seed(), "pu-val"));
  const int64_t available = positive.index_select(0, tv.train).sum().item<int64_t>();
  TORCH_CHECK(o.labeled() <= available, "data.labeled_positives = ", o.labeled(), " but the training split holds only ",
              available, " positive images (classes ", class_list(pos), ", after the validation split of ",
              o.val_per_class(), " per class)");
  const auto train = draw_positives(tv.train, positive, o.labeled(), derive_seed(o.seed(), "pu-labeled"));

  // The validation split's labeled positives: by default the share the training split has.
  const int64_t val_available = positive.index_select(0, tv.val).sum().item<int64_t>();
  const int64_t val_n =
      o.val_labeled() > 0 ? o.val_labeled()
                          : std::max<int64_t>(1, std::llround(static_cast<double>(o.labeled()) *
                                                              static_cast<double>(tv.val.numel()) /
                                                              static_cast<double>(tv.train.numel())));
  TORCH_CHECK(val_n <= val_available, "data.val_labeled_positives = ", val_n, " but the validation split holds only ",
              val_available, " positive images");
  const auto val = draw_positives(tv.val, positive, val_n, derive_seed(o.seed(), "pu-val-labeled"));

  const bool all = o.unlabeled() == PuUnlabeled::kAll;
  const auto& device = labels.device();
  return {train.drawn.to(device), (all ? tv.train : train.rest).to(device), tv.val.to(device), val.drawn.to(device),
          (all ? tv.val : val.rest).to(device)};
}

}  // namespace selfsup::data
