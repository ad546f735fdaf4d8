#include "selfsup/tune/search.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

namespace selfsup::tune {
namespace {

std::pair<double, double> range_of(const YAML::Node& n, const std::string& key, const std::string& source,
                                   const char* kind) {
  TORCH_CHECK(n.IsSequence() && n.size() == 2, source, ": space.", key, ".", kind, " must be [low, high]");
  double lo = 0, hi = 0;
  try {
    lo = n[0].as<double>();
    hi = n[1].as<double>();
  } catch (const YAML::Exception&) {
    TORCH_CHECK(false, source, ": space.", key, ".", kind, " must be two numbers");
  }
  TORCH_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, source, ": space.", key, ".", kind,
              " must be [low, high] with low <= high, got [", lo, ", ", hi, "]");
  return {lo, hi};
}

}  // namespace

SearchSpace SearchSpace::from_yaml(const YAML::Node& space, const std::string& source) {
  TORCH_CHECK(space.IsMap() && space.size() > 0, source, ": `space` must map config keys to {choice: [...]}, "
              "{uniform: [lo, hi]}, {loguniform: [lo, hi]} or {int: [lo, hi]}");
  SearchSpace s;
  for (const auto& kv : space) {
    Dimension d;
    d.key = kv.first.as<std::string>();
    const auto& spec = kv.second;
    TORCH_CHECK(spec.IsMap() && spec.size() == 1, source, ": space.", d.key,
                " must be one of {choice: [...]}, {uniform: [lo, hi]}, {loguniform: [lo, hi]}, {int: [lo, hi]}");
    const auto kind = spec.begin()->first.as<std::string>();
    const auto& arg = spec.begin()->second;
    if (kind == "choice") {
      TORCH_CHECK(arg.IsSequence() && arg.size() > 0, source, ": space.", d.key, ".choice must list at least one value");
      d.kind = Dimension::Kind::kChoice;
      for (const auto& v : arg) d.choices.push_back(YAML::Clone(v));
    } else if (kind == "uniform" || kind == "loguniform" || kind == "int") {
      std::tie(d.low, d.high) = range_of(arg, d.key, source, kind.c_str());
      d.kind = kind == "uniform" ? Dimension::Kind::kUniform
               : kind == "int"   ? Dimension::Kind::kInt
                                 : Dimension::Kind::kLogUniform;
      TORCH_CHECK(d.kind != Dimension::Kind::kLogUniform || d.low > 0, source, ": space.", d.key,
                  ".loguniform needs low > 0, got ", d.low);
      TORCH_CHECK(d.kind != Dimension::Kind::kInt || (d.low == std::floor(d.low) && d.high == std::floor(d.high)),
                  source, ": space.", d.key, ".int needs whole numbers, got [", d.low, ", ", d.high, "]");
    } else {
      TORCH_CHECK(false, source, ": space.", d.key, ": unknown kind '", kind,
                  "' (expected choice, uniform, loguniform or int)");
    }
    s.dims.push_back(std::move(d));
  }
  return s;
}

Assignment SearchSpace::sample(torch::Generator& gen) const {
  Assignment a;
  const auto u = torch::rand({static_cast<int64_t>(dims.size())}, gen, torch::kFloat64);
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto& d = dims[i];
    const double x = u[static_cast<int64_t>(i)].item<double>();
    switch (d.kind) {
      case Dimension::Kind::kChoice: {
        const auto k = std::min(d.choices.size() - 1, static_cast<size_t>(x * static_cast<double>(d.choices.size())));
        a.emplace_back(d.key, YAML::Clone(d.choices[k]));
        break;
      }
      case Dimension::Kind::kUniform:
        a.emplace_back(d.key, YAML::Node(d.low + x * (d.high - d.low)));
        break;
      case Dimension::Kind::kLogUniform:
        a.emplace_back(d.key, YAML::Node(std::exp(std::log(d.low) + x * (std::log(d.high) - std::log(d.low)))));
        break;
      case Dimension::Kind::kInt: {
        const auto n = static_cast<int64_t>(d.high - d.low) + 1;
        a.emplace_back(d.key, YAML::Node(static_cast<int64_t>(d.low) +
                                         std::min(n - 1, static_cast<int64_t>(x * static_cast<double>(n)))));
        break;
      }
    }
  }
  return a;
}

std::vector<Rung> halving_plan(int64_t trials, int64_t eta, double total_seconds, int64_t parallel) {
  TORCH_CHECK(trials >= 1, "tune: trials must be >= 1, got ", trials);
  TORCH_CHECK(eta >= 2, "tune: eta must be >= 2, got ", eta);
  TORCH_CHECK(parallel >= 1, "tune: --parallel must be >= 1, got ", parallel);
  TORCH_CHECK(std::isfinite(total_seconds) && total_seconds > 0, "tune: --time-limit must be positive, got ",
              total_seconds);
  std::vector<Rung> rungs;
  int64_t n = trials, scale = 1;
  double units = 0;  // the wall time of the plan in units of rung 0's budget
  while (true) {
    rungs.push_back({n, static_cast<double>(scale)});
    units += static_cast<double>((n + parallel - 1) / parallel) * static_cast<double>(scale);
    if (n == 1) break;
    n = std::max<int64_t>(1, n / eta);
    scale *= eta;
  }
  for (auto& r : rungs) r.seconds *= total_seconds / units;
  return rungs;
}

std::vector<int64_t> promote(const std::vector<double>& scores, int64_t keep) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const double x = scores[a], y = scores[b];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return x > y;
  });
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(std::max<int64_t>(0, keep))));
  return order;
}

void check_metric(const std::string& metric) {
  TORCH_CHECK(!metric.empty(), "tune: metric must name a figure of the run's summary, e.g. val_acc");
  std::string lower = metric;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  TORCH_CHECK(lower.find("test") == std::string::npos, "tune: metric '", metric,
              "' reads the test set; choose on the validation split (e.g. val_acc)");
}

std::string to_text(const YAML::Node& value) {
  YAML::Emitter e;
  e << YAML::Flow << value;
  return e.c_str();
}

}  // namespace selfsup::tune
