#pragma once
// Labeling functions for images: each looks at every image and votes a class or abstains (-1).
// Three kinds, declared in YAML (`functions:` of a `selfsup weak apply` config):
//   prototype  the class whose prototype (mean of the seed images' L2-normalised encoder features)
//              is nearest in cosine similarity, when it beats the runner-up by `margin`;
//   knn        the majority class of the `k` most similar seed images, when at least
//              `min_agreement` of them agree;
//   rule       a class when an image statistic over a region lies in (above, below): a user's own
//              heuristic, e.g. "little ink in the top third: footwear".
// Statistics, on pixels scaled to [0, 1] and averaged over channels, within `region`
// [top, bottom, left, right] given as fractions of the image (default the whole image):
//   mean      the mean intensity;           ink     the share of pixels above 0.5;
//   width     the share of columns with ink; height the share of rows with ink;
//   symmetry  1 - mean |x - x mirrored left-right|.
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <string>
#include <vector>

namespace selfsup::weak {

/// Votes int64 [N] of the nearest prototype: features [N, D] and seed_features [S, D] (any
/// scale: both are L2-normalised here), seed_labels int64 [S] in [0, num_classes); a class with
/// no seed image is never voted. margin >= 0.
torch::Tensor prototype_votes(const torch::Tensor& features, const torch::Tensor& seed_features,
                              const torch::Tensor& seed_labels, int64_t num_classes, double margin);

/// Votes int64 [N] of the k nearest seed images (cosine similarity, ties to the lower index):
/// their majority class when at least min_agreement (in (0, 1]) of the k share it, else -1.
torch::Tensor knn_votes(const torch::Tensor& features, const torch::Tensor& seed_features,
                        const torch::Tensor& seed_labels, int64_t num_classes, int64_t k, double min_agreement);

/// "mean", "ink", "width", "height", "symmetry"; anything else is an error naming the function.
const std::vector<std::string>& image_statistic_names();

/// The statistic of every uint8 image [N, C, H, W] within region {top, bottom, left, right}
/// (fractions, top < bottom, left < right): float64 [N].
torch::Tensor image_statistic(const torch::Tensor& images, const std::string& stat, const std::array<double, 4>& region);

struct LabelingFunction {
  std::string name, type;            // type: prototype, knn or rule
  double margin = 0.0;               // prototype
  int64_t k = 5;                     // knn
  double min_agreement = 0.6;        // knn
  std::string stat;                  // rule
  std::array<double, 4> region{0, 1, 0, 1};
  double above = -1e300, below = 1e300;
  int64_t label = -1;                // rule: the class it votes
  bool needs_features() const { return type != "rule"; }
};

/// The `functions:` list of a config: one map per function with `name`, `type` and that type's
/// keys (a rule's `label` a class name or number). An unknown type, statistic, key or class, a
/// repeated name, a bad margin, k or region: one error naming the function and the key.
std::vector<LabelingFunction> parse_labeling_functions(const YAML::Node& list, const std::vector<std::string>& classes);

/// The votes of every function on the images: int64 [N, functions]. `features` [N, D] and the
/// seed set are needed when a prototype or knn function is present.
torch::Tensor apply_labeling_functions(const std::vector<LabelingFunction>& functions, const torch::Tensor& images,
                                       const torch::Tensor& features, const torch::Tensor& seed_features,
                                       const torch::Tensor& seed_labels, int64_t num_classes);

}  // namespace selfsup::weak
