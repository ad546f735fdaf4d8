#pragma once
// What `selfsup tune` decides, apart from running trials: the search space (choices, uniform,
// log-uniform and integer ranges over config keys, as Optuna and Ray Tune users write them), the
// plan of successive halving (Jamieson & Talwalkar 2016: every trial gets a small budget, the top
// 1/eta go on with eta times more, until one is left) and the promotion at each rung.
#include <torch/types.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

namespace selfsup::tune {

struct Dimension {
  enum class Kind { kChoice, kUniform, kLogUniform, kInt };
  std::string key;  // a dotted config key, e.g. method.threshold
  Kind kind = Kind::kChoice;
  std::vector<YAML::Node> choices;  // kChoice
  double low = 0, high = 0;         // the ranges (inclusive)
};

/// key -> value of one trial, in the order of the space.
using Assignment = std::vector<std::pair<std::string, YAML::Node>>;

struct SearchSpace {
  std::vector<Dimension> dims;
  /// `{key: {choice: [a, b]}, key: {uniform: [lo, hi]}, key: {loguniform: [lo, hi]}, key: {int:
  /// [lo, hi]}}`; anything else is one error naming the key and `source`.
  static SearchSpace from_yaml(const YAML::Node& space, const std::string& source);
  /// One draw of every dimension from gen.
  Assignment sample(torch::Generator& gen) const;
};

/// One rung of successive halving: how many trials run and each one's seconds of training.
struct Rung {
  int64_t trials = 0;
  double seconds = 0;
};

/// The rungs for `trials` first trials and reduction factor `eta` (>= 2): rung r runs
/// max(1, trials / eta^r) trials (floor) for b eta^r seconds each, up to the first rung of one
/// trial, with b set so that the rungs' training fits `total_seconds` when `parallel` trials run at
/// once.
std::vector<Rung> halving_plan(int64_t trials, int64_t eta, double total_seconds, int64_t parallel);

/// The indices of the `keep` best scores (higher is better; a NaN, a failed trial, is worst; ties
/// go to the lower index), best first.
std::vector<int64_t> promote(const std::vector<double>& scores, int64_t keep);

/// Refuses a metric that reads the test set: any dotted part that names it.
void check_metric(const std::string& metric);

/// A value of a YAML node as the config would spell it on one line.
std::string to_text(const YAML::Node& value);

}  // namespace selfsup::tune
