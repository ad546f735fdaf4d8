#include "selfsup/eval/cotrain.h"

#include <limits>
#include <tuple>
#include <unordered_set>

namespace selfsup::eval {
namespace {

/// How sure a classifier is of its predicted class c: the log-odds log(p_c / (1 - p_c)) =
/// z_c - logsumexp_{j != c} z_j, which keeps ranking images whose p_c has rounded to 1.
std::pair<torch::Tensor, torch::Tensor> prediction_and_log_odds(const torch::Tensor& logits) {
  const auto pred = logits.argmax(1);
  const auto top = logits.gather(1, pred.unsqueeze(1)).squeeze(1);
  const auto others = logits.scatter(1, pred.unsqueeze(1), -std::numeric_limits<float>::infinity());
  return {pred, top - others.logsumexp(1)};
}

/// For each class, the `per_class` rows of `candidates` predicted as that class with the highest
/// log-odds: {rows, labels, log-odds}. All on the CPU.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> most_sure(const torch::Tensor& logits,
                                                                 const torch::Tensor& candidates, int64_t per_class) {
  const auto [pred, conf] = prediction_and_log_odds(logits);
  std::vector<torch::Tensor> rows, labels, confs;
  for (int64_t c = 0; c < logits.size(1); ++c) {
    const auto of_c = pred.eq(c).nonzero().squeeze(1);
    if (of_c.numel() == 0) continue;
    const auto k = std::min<int64_t>(per_class, of_c.numel());
    const auto top = std::get<1>(conf.index_select(0, of_c).topk(k));
    const auto chosen = of_c.index_select(0, top);
    rows.push_back(candidates.index_select(0, chosen));
    labels.push_back(torch::full({k}, c, torch::kLong));
    confs.push_back(conf.index_select(0, chosen));
  }
  if (rows.empty()) return {torch::empty({0}, torch::kLong), torch::empty({0}, torch::kLong), torch::empty({0})};
  return {torch::cat(rows), torch::cat(labels), torch::cat(confs)};
}

}  // namespace

torch::Tensor co_training_scores(const LinearHead& head1, const LinearHead& head2, const TwoViews& x) {
  return torch::log_softmax(linear_logits(head1, x.view1), 1) + torch::log_softmax(linear_logits(head2, x.view2), 1);
}

std::vector<CoTrainingRound> co_training(const TwoViews& train, const torch::Tensor& labeled,
                                         const torch::Tensor& labels, const torch::Tensor& pool, const TwoViews& val,
                                         const torch::Tensor& val_labels, int64_t num_classes,
                                         const CoTrainingOptions& o,
                                         const std::function<void(const CoTrainingRound&)>& on_round) {
  TORCH_CHECK(train.view1.dim() == 2 && train.view2.dim() == 2 && train.view1.size(0) == train.view2.size(0),
              "co_training: the two views must be [N, D1] and [N, D2] of the same images, got ", train.view1.sizes(),
              " and ", train.view2.sizes());
  TORCH_CHECK(val.view1.dim() == 2 && val.view2.dim() == 2 && val.view1.size(0) == val.view2.size(0) &&
                  val.view1.size(1) == train.view1.size(1) && val.view2.size(1) == train.view2.size(1),
              "co_training: the validation views must match the training views' widths, got ", val.view1.sizes(),
              " and ", val.view2.sizes());
  TORCH_CHECK(labeled.numel() > 0 && labeled.numel() == labels.numel(),
              "co_training: expected one label per labeled row and at least one, got ", labels.numel(), " labels for ",
              labeled.numel(), " rows");
  TORCH_CHECK(val_labels.numel() == val.view1.size(0) && val_labels.numel() > 0,
              "co_training: expected one label per validation row and at least one, got ", val_labels.numel());
  TORCH_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < num_classes,
              "co_training: labels must be in [0, ", num_classes, ")");
  TORCH_CHECK(o.rounds() >= 0, "co_training: rounds must be >= 0, got ", o.rounds());
  TORCH_CHECK(o.per_class() >= 1, "co_training: per_class must be >= 1, got ", o.per_class());

  const auto x1 = train.view1.to(torch::kFloat32), x2 = train.view2.to(torch::kFloat32);
  const auto device = x1.device();
  // Row bookkeeping on the CPU; the features stay where they are.
  auto on_device = [&](const torch::Tensor& index) { return index.to(device); };
  auto rows = labeled.to(torch::kLong).cpu(), ys = labels.to(torch::kLong).cpu();
  // Still unlabeled: pool rows not among the labeled ones.
  auto left = pool.to(torch::kLong).cpu();
  left = left.index({torch::isin(left, rows).logical_not()});
  std::vector<CoTrainingRound> out;
  for (int64_t r = 0; r <= o.rounds(); ++r) {
    CoTrainingRound round;
    round.round = r;
    round.labeled = rows.numel();
    round.head1 = fit_linear_head(x1.index_select(0, on_device(rows)), ys, val.view1, val_labels, num_classes, o.probe());
    round.head2 = fit_linear_head(x2.index_select(0, on_device(rows)), ys, val.view2, val_labels, num_classes, o.probe());
    round.added = torch::empty({0}, torch::kLong);
    round.added_labels = torch::empty({0}, torch::kLong);
    round.added_by = torch::empty({0}, torch::kLong);
    if (r < o.rounds() && left.numel() > 0) {
      torch::NoGradGuard no_grad;
      const auto z1 = linear_logits(round.head1, x1.index_select(0, on_device(left))).cpu();
      const auto z2 = linear_logits(round.head2, x2.index_select(0, on_device(left))).cpu();
      auto [r1, y1, c1] = most_sure(z1, left, o.per_class());
      auto [r2, y2, c2] = most_sure(z2, left, o.per_class());
      auto all_rows = torch::cat({r1, r2}), all_labels = torch::cat({y1, y2});
      auto all_conf = torch::cat({c1, c2});
      auto by = torch::cat({torch::ones({r1.numel()}, torch::kLong), torch::full({r2.numel()}, 2, torch::kLong)});
      // A row both views picked: the more confident view's label (ties to view 1, listed first).
      const auto order = std::get<1>(all_conf.sort(/*stable=*/true, 0, /*descending=*/true));
      all_rows = all_rows.index_select(0, order);
      all_labels = all_labels.index_select(0, order);
      by = by.index_select(0, order);
      std::vector<int64_t> keep;
      std::unordered_set<int64_t> seen;
      const auto* rp = all_rows.data_ptr<int64_t>();
      for (int64_t i = 0; i < all_rows.numel(); ++i) {
        if (seen.insert(rp[i]).second) keep.push_back(i);
      }
      const auto k = torch::tensor(keep, torch::kLong);
      round.added = all_rows.index_select(0, k);
      round.added_labels = all_labels.index_select(0, k);
      round.added_by = by.index_select(0, k);
      rows = torch::cat({rows, round.added});
      ys = torch::cat({ys, round.added_labels});
      left = left.index({torch::isin(left, round.added).logical_not()});
    }
    const bool last = r == o.rounds() || round.added.numel() == 0;  // nothing left to label: this fit is the last
    if (on_round) on_round(round);
    out.push_back(std::move(round));
    if (last) break;
  }
  return out;
}

}  // namespace selfsup::eval
