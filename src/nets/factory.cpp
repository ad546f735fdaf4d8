// Name-based construction: from BackboneOptions (C++) or from a run's Config.
#include <c10/util/StringUtil.h>

#include "selfsup/nets/convnet.h"
#include "selfsup/nets/mlp.h"
#include "selfsup/nets/resnet.h"
#include "selfsup/nets/vit.h"

namespace selfsup::nets {
namespace {

// Which backbones each optional setting applies to, so a misplaced one is an error, not a no-op.
struct Applicability {
  const char* option;
  bool set;
  std::vector<std::string> backbones;
};

std::vector<Applicability> applicability(const BackboneOptions& o) {
  const std::vector<std::string> convnet{"convnet"}, resnet{"resnet18", "resnet34"}, vit{"vit", "vit_mini"},
      mlp{"mlp"};
  return {
      {"channels", o.channels().has_value(), convnet},
      {"blocks_per_stage", o.blocks_per_stage().has_value(), convnet},
      {"width", o.width().has_value(), resnet},
      {"cifar_stem", o.cifar_stem().has_value(), resnet},
      {"zero_init_residual", o.zero_init_residual().has_value(), resnet},
      {"mid_widths", o.mid_widths().has_value(), resnet},
      {"patch_size", o.patch_size().has_value(), vit},
      {"depth", o.depth().has_value(), vit},
      {"dim", o.dim().has_value(), vit},
      {"heads", o.heads().has_value(), vit},
      {"mlp_ratio", o.mlp_ratio().has_value(), vit},
      {"pool", o.pool().has_value(), vit},
      {"hidden", o.hidden().has_value(), mlp},
      {"batch_norm", o.batch_norm().has_value(), mlp},
  };
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

template <typename T, typename Setter>
void apply_if_set(const c10::optional<T>& value, Setter&& setter) {
  if (value) setter(*value);
}

// Reads `key` into `dst` only when present, so absent keys keep the backbone's own default.
template <typename T>
void read_key(const Config& cfg, const std::string& key, c10::optional<T>& dst) {
  if (cfg.has(key)) dst = cfg.get<T>(key, T{});
}

}  // namespace

BackboneOptions::BackboneOptions(std::string name, int64_t in_channels, int64_t image_size)
    : name_(std::move(name)), in_channels_(in_channels), image_size_(image_size) {}

const std::vector<std::string>& backbone_names() {
  static const std::vector<std::string> names{"convnet", "resnet18", "resnet34", "vit", "vit_mini", "mlp"};
  return names;
}

Backbone make_backbone(const BackboneOptions& o) {
  const std::string& name = o.name();
  TORCH_CHECK(contains(backbone_names(), name), "unknown backbone '", name,
              "' (valid: ", c10::Join(", ", backbone_names()), ")");
  TORCH_CHECK(o.in_channels() > 0, "backbone '", name, "': in_channels must be positive, got ", o.in_channels());
  TORCH_CHECK(o.image_size() > 0, "backbone '", name, "': image_size must be positive, got ", o.image_size());
  for (const auto& a : applicability(o)) {
    TORCH_CHECK(!a.set || contains(a.backbones, name), "backbone option '", a.option,
                "' does not apply to backbone '", name, "' (it applies to ", c10::Join(", ", a.backbones), ")");
  }

  if (name == "convnet") {
    ConvNetOptions c(o.in_channels());
    apply_if_set(o.channels(), [&](const auto& v) { c.channels(v); });
    apply_if_set(o.blocks_per_stage(), [&](auto v) { c.blocks_per_stage(v); });
    return std::make_shared<ConvNetImpl>(c);
  }
  if (name == "resnet18" || name == "resnet34") {
    ResNetOptions r(name == "resnet18" ? 18 : 34, o.in_channels());
    r.cifar_stem(o.image_size() <= 64);
    apply_if_set(o.width(), [&](auto v) { r.width(v); });
    apply_if_set(o.cifar_stem(), [&](auto v) { r.cifar_stem(v); });
    apply_if_set(o.zero_init_residual(), [&](auto v) { r.zero_init_residual(v); });
    apply_if_set(o.mid_widths(), [&](const auto& v) { r.mid_widths(v); });
    return std::make_shared<ResNetImpl>(r);
  }
  if (name == "vit" || name == "vit_mini") {
    ViTOptions v = name == "vit" ? ViTOptions(o.in_channels(), o.image_size())
                                 : ViTOptions::mini(o.in_channels(), o.image_size());
    apply_if_set(o.patch_size(), [&](auto x) { v.patch_size(x); });
    apply_if_set(o.depth(), [&](auto x) { v.depth(x); });
    apply_if_set(o.dim(), [&](auto x) { v.dim(x); });
    apply_if_set(o.heads(), [&](auto x) { v.heads(x); });
    apply_if_set(o.mlp_ratio(), [&](auto x) { v.mlp_ratio(x); });
    apply_if_set(o.pool(), [&](const auto& x) { v.pool(x); });
    return std::make_shared<ViTImpl>(v);
  }
  MLPBackboneOptions m(o.in_channels(), o.image_size());
  apply_if_set(o.hidden(), [&](const auto& v) { m.hidden(v); });
  apply_if_set(o.batch_norm(), [&](auto v) { m.batch_norm(v); });
  return std::make_shared<MLPBackboneImpl>(m);
}

Backbone make_backbone(const Config& cfg, int64_t in_channels, int64_t image_size) {
  BackboneOptions o(cfg.get<std::string>("model.backbone", "convnet"), in_channels, image_size);
  const std::string& name = o.name();
  TORCH_CHECK(contains(backbone_names(), name), "model.backbone: unknown backbone '", name,
              "' (valid: ", c10::Join(", ", backbone_names()), ")");
  if (name == "convnet") {
    read_key(cfg, "model.channels", o.channels());
    read_key(cfg, "model.blocks_per_stage", o.blocks_per_stage());
  } else if (name == "resnet18" || name == "resnet34") {
    read_key(cfg, "model.width", o.width());
    read_key(cfg, "model.cifar_stem", o.cifar_stem());
    read_key(cfg, "model.zero_init_residual", o.zero_init_residual());
    read_key(cfg, "model.mid_widths", o.mid_widths());
  } else if (name == "vit" || name == "vit_mini") {
    read_key(cfg, "model.patch_size", o.patch_size());
    read_key(cfg, "model.depth", o.depth());
    read_key(cfg, "model.dim", o.dim());
    read_key(cfg, "model.heads", o.heads());
    read_key(cfg, "model.mlp_ratio", o.mlp_ratio());
    read_key(cfg, "model.pool", o.pool());
  } else {
    read_key(cfg, "model.hidden", o.hidden());
    read_key(cfg, "model.batch_norm", o.batch_norm());
  }
  return make_backbone(o);
}

}  // namespace selfsup::nets
