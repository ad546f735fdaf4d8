#include "selfsup/weak/labeling_functions.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace selfsup::weak {
namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  return x.to(torch::kFloat64) / x.to(torch::kFloat64).norm(2, 1, true).clamp_min(1e-12);
}

void check_seed(const torch::Tensor& features, const torch::Tensor& seed_features, const torch::Tensor& seed_labels,
                int64_t num_classes, const char* fn) {
  TORCH_CHECK(features.defined() && features.dim() == 2, fn, ": features must be [N, D]");
  TORCH_CHECK(seed_features.defined() && seed_features.dim() == 2 && seed_features.size(0) > 0 &&
                  seed_features.size(1) == features.size(1),
              fn, ": seed features must be [S, ", features.size(1), "] with S > 0, got ",
              seed_features.defined() ? seed_features.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(seed_labels.defined() && seed_labels.dim() == 1 && seed_labels.size(0) == seed_features.size(0), fn,
              ": seed labels must be [", seed_features.size(0), "]");
  TORCH_CHECK(seed_labels.min().item<int64_t>() >= 0 && seed_labels.max().item<int64_t>() < num_classes, fn,
              ": seed labels must be in [0, ", num_classes, ")");
}

}  // namespace

torch::Tensor prototype_votes(const torch::Tensor& features, const torch::Tensor& seed_features,
                              const torch::Tensor& seed_labels, int64_t num_classes, double margin) {
  check_seed(features, seed_features, seed_labels, num_classes, "prototype_votes");
  TORCH_CHECK(std::isfinite(margin) && margin >= 0, "prototype_votes: margin must be >= 0, got ", margin);
  const auto s = unit_rows(seed_features);
  const auto onehot = torch::one_hot(seed_labels.to(torch::kLong), num_classes).to(torch::kFloat64);  // [S, K]
  const auto counts = onehot.sum(0);                                                                  // [K]
  auto protos = unit_rows(onehot.t().mm(s) / counts.clamp_min(1).unsqueeze(1));                      // [K, D]
  auto sim = unit_rows(features).mm(protos.t());                                                      // [N, K]
  sim = sim.masked_fill(counts.eq(0).unsqueeze(0), -1e9);  // a class without seed images is never voted
  const auto top = sim.topk(std::min<int64_t>(2, num_classes), 1);
  const auto best = std::get<1>(top).select(1, 0);
  if (num_classes < 2 || counts.gt(0).sum().item<int64_t>() < 2) return best;
  const auto gap = std::get<0>(top).select(1, 0) - std::get<0>(top).select(1, 1);
  return torch::where(gap >= margin, best, torch::full_like(best, -1));
}

torch::Tensor knn_votes(const torch::Tensor& features, const torch::Tensor& seed_features,
                        const torch::Tensor& seed_labels, int64_t num_classes, int64_t k, double min_agreement) {
  check_seed(features, seed_features, seed_labels, num_classes, "knn_votes");
  TORCH_CHECK(k >= 1 && k <= seed_features.size(0), "knn_votes: k must be in [1, ", seed_features.size(0),
              "] (the seed images), got ", k);
  TORCH_CHECK(std::isfinite(min_agreement) && min_agreement > 0 && min_agreement <= 1,
              "knn_votes: min_agreement must be in (0, 1], got ", min_agreement);
  const auto sim = unit_rows(features).mm(unit_rows(seed_features).t());  // [N, S]
  // A stable descending sort: equal similarities keep the lower seed index.
  const auto nn = std::get<1>(sim.sort(/*stable=*/true, 1, /*descending=*/true)).slice(1, 0, k);
  const auto labels = seed_labels.to(torch::kLong).index({nn});                                 // [N, k]
  const auto counts = torch::one_hot(labels, num_classes).sum(1).to(torch::kFloat64);            // [N, K]
  const auto best = counts.max(1);
  const auto share = std::get<0>(best) / static_cast<double>(k);
  const auto cls = std::get<1>(best);
  return torch::where(share >= min_agreement - 1e-12, cls, torch::full_like(cls, -1));
}

const std::vector<std::string>& image_statistic_names() {
  static const std::vector<std::string> names = {"mean", "ink", "width", "height", "symmetry"};
  return names;
}

torch::Tensor image_statistic(const torch::Tensor& images, const std::string& stat, const std::array<double, 4>& r) {
  TORCH_CHECK(images.defined() && images.dim() == 4, "image_statistic: images must be [N, C, H, W]");
  TORCH_CHECK(r[0] >= 0 && r[0] < r[1] && r[1] <= 1 && r[2] >= 0 && r[2] < r[3] && r[3] <= 1,
              "region must be [top, bottom, left, right] with 0 <= top < bottom <= 1 and 0 <= left < right <= 1, got [",
              r[0], ", ", r[1], ", ", r[2], ", ", r[3], "]");
  const int64_t h = images.size(2), w = images.size(3);
  const auto row0 = static_cast<int64_t>(std::floor(r[0] * h)), row1 = std::max(row0 + 1, static_cast<int64_t>(std::ceil(r[1] * h)));
  const auto col0 = static_cast<int64_t>(std::floor(r[2] * w)), col1 = std::max(col0 + 1, static_cast<int64_t>(std::ceil(r[3] * w)));
  const auto x = images.to(torch::kFloat64).div(255).mean(1).slice(1, row0, std::min(row1, h)).slice(2, col0, std::min(col1, w));
  const auto ink = x.gt(0.5);
  if (stat == "mean") return x.mean({1, 2});
  if (stat == "ink") return ink.to(torch::kFloat64).mean({1, 2});
  if (stat == "width") return ink.any(1).to(torch::kFloat64).mean(1);
  if (stat == "height") return ink.any(2).to(torch::kFloat64).mean(1);
  if (stat == "symmetry") return 1 - (x - x.flip(2)).abs().mean({1, 2});
  TORCH_CHECK(false, "unknown image statistic '", stat, "' (statistics: mean, ink, width, height, symmetry)");
}

std::vector<LabelingFunction> parse_labeling_functions(const YAML::Node& list, const std::vector<std::string>& classes) {
  TORCH_CHECK(list.IsDefined() && list.IsSequence() && list.size() > 0,
              "functions: must be a non-empty list of labeling functions");
  std::vector<LabelingFunction> out;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& n = list[i];
    TORCH_CHECK(n.IsMap(), "functions[", i, "] must be a map with name and type");
    LabelingFunction f;
    f.name = n["name"] ? n["name"].as<std::string>() : "";
    TORCH_CHECK(!f.name.empty(), "functions[", i, "] has no name");
    TORCH_CHECK(names.insert(f.name).second, "labeling function '", f.name, "' is named twice");
    f.type = n["type"] ? n["type"].as<std::string>() : "";
    const std::string who = "labeling function '" + f.name + "'";
    std::set<std::string> allowed{"name", "type"};
    if (f.type == "prototype") {
      allowed.insert("margin");
      if (n["margin"]) f.margin = n["margin"].as<double>();
      TORCH_CHECK(std::isfinite(f.margin) && f.margin >= 0, who, ": margin must be >= 0, got ", f.margin);
    } else if (f.type == "knn") {
      allowed.insert({"k", "min_agreement"});
      if (n["k"]) f.k = n["k"].as<int64_t>();
      if (n["min_agreement"]) f.min_agreement = n["min_agreement"].as<double>();
      TORCH_CHECK(f.k >= 1, who, ": k must be >= 1, got ", f.k);
      TORCH_CHECK(f.min_agreement > 0 && f.min_agreement <= 1, who, ": min_agreement must be in (0, 1], got ",
                  f.min_agreement);
    } else if (f.type == "rule") {
      allowed.insert({"stat", "region", "above", "below", "label"});
      f.stat = n["stat"] ? n["stat"].as<std::string>() : "";
      const auto& stats = image_statistic_names();
      TORCH_CHECK(std::find(stats.begin(), stats.end(), f.stat) != stats.end(), who, ": stat must be one of mean, ink, ",
                  "width, height, symmetry, got '", f.stat, "'");
      if (n["region"]) {
        TORCH_CHECK(n["region"].IsSequence() && n["region"].size() == 4, who,
                    ": region must be [top, bottom, left, right]");
        for (size_t j = 0; j < 4; ++j) f.region[j] = n["region"][j].as<double>();
      }
      TORCH_CHECK(n["above"] || n["below"], who, ": a rule needs above, below or both");
      if (n["above"]) f.above = n["above"].as<double>();
      if (n["below"]) f.below = n["below"].as<double>();
      TORCH_CHECK(f.above < f.below, who, ": above (", f.above, ") must be below below (", f.below, ")");
      TORCH_CHECK(n["label"], who, ": a rule needs the label it votes");
      const auto text = n["label"].as<std::string>();
      const auto it = std::find(classes.begin(), classes.end(), text);
      if (it != classes.end()) {
        f.label = it - classes.begin();
      } else {
        try {
          size_t used = 0;
          f.label = std::stoll(text, &used);
          TORCH_CHECK(used == text.size(), "");
        } catch (...) {
          f.label = -1;
        }
        TORCH_CHECK(f.label >= 0 && f.label < static_cast<int64_t>(classes.size()), who, ": label '", text,
                    "' is neither a class name nor a class number below ", classes.size());
      }
      (void)image_statistic(torch::zeros({1, 1, 4, 4}, torch::kUInt8), f.stat, f.region);  // refuses a bad region now
    } else {
      TORCH_CHECK(false, who, ": type must be prototype, knn or rule, got '", f.type, "'");
    }
    for (const auto& kv : n) {
      const auto key = kv.first.as<std::string>();
      TORCH_CHECK(allowed.count(key), who, ": '", key, "' is not a key of a ", f.type, " function");
    }
    out.push_back(f);
  }
  return out;
}

torch::Tensor apply_labeling_functions(const std::vector<LabelingFunction>& functions, const torch::Tensor& images,
                                       const torch::Tensor& features, const torch::Tensor& seed_features,
                                       const torch::Tensor& seed_labels, int64_t num_classes) {
  std::vector<torch::Tensor> votes;
  for (const auto& f : functions) {
    if (f.type == "prototype") {
      votes.push_back(prototype_votes(features, seed_features, seed_labels, num_classes, f.margin));
    } else if (f.type == "knn") {
      votes.push_back(knn_votes(features, seed_features, seed_labels, num_classes, f.k, f.min_agreement));
    } else {
      const auto s = image_statistic(images, f.stat, f.region);
      const auto hit = s.gt(f.above).logical_and(s.lt(f.below));
      votes.push_back(torch::where(hit, torch::full({s.size(0)}, f.label, torch::kLong),
                                   torch::full({s.size(0)}, int64_t{-1}, torch::kLong)));
    }
  }
  return torch::stack(votes, 1).to(torch::kLong);
}

}  // namespace selfsup::weak
