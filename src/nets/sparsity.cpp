#include "selfsup/nets/sparsity.h"

#include "selfsup/nets/thin.h"

#include <cstdio>
#include <map>
#include <sstream>

namespace selfsup::nets {
namespace {

int64_t count_zero_slices(const torch::Tensor& nonzero_per_slice) { return (nonzero_per_slice == 0).sum().item<int64_t>(); }

LayerSparsity measure(const std::string& name, const torch::Tensor& weight, int64_t positions) {
  torch::NoGradGuard no_grad;
  const torch::Tensor nz = (weight.detach() != 0).to(torch::kInt64);
  LayerSparsity l;
  l.name = name;
  l.shape = weight.sizes().vec();
  l.filters = weight.size(0);
  l.channels = weight.size(1);
  l.params = weight.numel();
  l.zero_params = l.params - nz.sum().item<int64_t>();
  l.zero_filters = count_zero_slices(nz.reshape({l.filters, -1}).sum(1));
  l.zero_channels = count_zero_slices(nz.transpose(0, 1).reshape({l.channels, -1}).sum(1));
  const torch::Tensor per_kernel = nz.reshape({l.filters, l.channels, -1}).sum(2);
  l.kernels = per_kernel.numel();
  l.zero_kernels = count_zero_slices(per_kernel);
  if (positions > 0) {
    const double kernel_size = static_cast<double>(l.params) / static_cast<double>(l.kernels);
    l.macs = static_cast<double>(l.params) * positions;
    l.macs_nonzero = static_cast<double>(l.kernels - l.zero_kernels) * kernel_size * positions;
  }
  return l;
}

double fraction(int64_t part, int64_t whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; }

nlohmann::json layer_json(const LayerSparsity& l) {
  nlohmann::json j{{"name", l.name},
                   {"filters", l.filters},
                   {"zero_filters", l.zero_filters},
                   {"channels", l.channels},
                   {"zero_channels", l.zero_channels},
                   {"kernels", l.kernels},
                   {"zero_kernels", l.zero_kernels},
                   {"params", l.params},
                   {"zero_params", l.zero_params},
                   {"zero_params_fraction", fraction(l.zero_params, l.params)},
                   {"macs", l.macs},
                   {"macs_nonzero", l.macs_nonzero},
                   {"macs_after", l.macs_after}};
  if (!l.shape.empty()) j["shape"] = l.shape;
  return j;
}

}  // namespace

LayerSparsity SparsityReport::total() const {
  LayerSparsity t;
  t.name = "total";
  for (const auto& l : layers) {
    t.filters += l.filters;
    t.zero_filters += l.zero_filters;
    t.channels += l.channels;
    t.zero_channels += l.zero_channels;
    t.kernels += l.kernels;
    t.zero_kernels += l.zero_kernels;
    t.params += l.params;
    t.zero_params += l.zero_params;
    t.macs += l.macs;
    t.macs_nonzero += l.macs_nonzero;
    t.macs_after += l.macs_after;
  }
  return t;
}

nlohmann::json SparsityReport::to_json() const {
  nlohmann::json j{{"layers", nlohmann::json::array()}};
  for (const auto& l : layers) j["layers"].push_back(layer_json(l));
  j["total"] = layer_json(total());
  return j;
}

std::string SparsityReport::table() const {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-34s %13s %13s %17s %9s %9s %9s\n", "layer", "filters zero", "channels zero",
                "params zero", "MMACs", "nonzero", "thinned");
  out << line;
  auto row = [&](const LayerSparsity& l) {
    const std::string f = std::to_string(l.zero_filters) + "/" + std::to_string(l.filters);
    const std::string c = std::to_string(l.zero_channels) + "/" + std::to_string(l.channels);
    char p[64];
    std::snprintf(p, sizeof p, "%lld (%.1f%%)", static_cast<long long>(l.zero_params),
                  100.0 * fraction(l.zero_params, l.params));
    std::snprintf(line, sizeof line, "%-34s %13s %13s %17s %9.3f %9.3f %9.3f\n", l.name.c_str(), f.c_str(), c.c_str(),
                  p, l.macs / 1e6, l.macs_nonzero / 1e6, l.macs_after / 1e6);
    out << line;
  };
  for (const auto& l : layers) row(l);
  row(total());
  return out.str();
}

SparsityReport sparsity_report(const torch::nn::Module& model, const BackboneImpl* backbone, int64_t height,
                               int64_t width) {
  // Where the backbone sits inside the model, to name its convolutions as the model does.
  std::string prefix;
  bool inside = false;
  std::map<std::string, int64_t> positions;
  if (backbone != nullptr) {
    if (&model == static_cast<const torch::nn::Module*>(backbone)) {
      inside = true;
    } else {
      for (const auto& m : model.named_modules("", /*include_self=*/false)) {
        if (m.value().get() == static_cast<const torch::nn::Module*>(backbone)) {
          prefix = m.key() + ".";
          inside = true;
          break;
        }
      }
    }
    if (inside) {
      for (const auto& [name, n] : backbone->conv_positions(height, width)) positions[prefix + name] = n;
    }
  }
  SparsityReport report;
  const std::string suffix = ".weight";
  for (const auto& p : model.named_parameters()) {
    const auto& key = p.key();
    if (p.value().dim() < 2 || !p.value().requires_grad() || key.size() <= suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string name = key.substr(0, key.size() - suffix.size());
    int64_t n = 0;
    if (auto it = positions.find(name); it != positions.end()) {
      n = it->second;
    } else if (p.value().dim() == 2) {
      const bool in_backbone = inside && (prefix.empty() || name.compare(0, prefix.size(), prefix) == 0);
      if (!in_backbone) n = 1;  // a linear layer outside the backbone sees one feature vector per image
    }
    report.layers.push_back(measure(name, p.value(), n));
    report.layers.back().macs_after = report.layers.back().macs_nonzero;
  }
  // The backbone's layers once thinned, where it can be.
  if (inside) {
    std::map<std::string, double> thinned;
    try {
      const auto t = thin(*backbone, nullptr);
      const auto thin_positions = t.backbone->conv_positions(height, width);
      const auto params = t.backbone->named_parameters();
      for (const auto& [name, n] : thin_positions) {
        if (const auto* w = params.find(name + ".weight")) thinned[prefix + name] = static_cast<double>(w->numel()) * n;
      }
    } catch (const c10::Error&) {
      thinned.clear();  // not a backbone thinning knows
    }
    for (auto& l : report.layers) {
      if (auto it = thinned.find(l.name); it != thinned.end()) l.macs_after = it->second;
    }
  }
  return report;
}

}  // namespace selfsup::nets
