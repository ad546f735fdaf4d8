#pragma once
// One test config for several methods: the method.* keys of one method (the queue of MoCo, the
// predictor of BYOL) are refused by the others, so a test keeps only those its method declares.
#include "selfsup/core/config.h"
#include "selfsup/methods/method.h"

namespace selfsup::testing {

/// A copy of `cfg` naming `method`, without the method.* keys that `method` does not declare.
/// (MAE: with a tiny ViT as its model.)
inline Config for_method(const Config& cfg, const std::string& method) {
  auto out = Config::parse(cfg.dump(), cfg.source());
  const auto& keys = methods::Registry::instance().get(method).keys;
  YAML::Node section = out.root()["method"];
  for (const auto& key : out.leaf_keys("method")) {
    if (keys.find(key) == nullptr) section.remove(key.substr(std::string("method.").size()));
  }
  out.set("method.name", YAML::Node(method));
  // A masked autoencoder needs a ViT encoder, and a decoder no wider than it: the shared tiny
  // convnet becomes a tiny ViT.
  if (method == "mae") {
    out.set("model", YAML::Load("{backbone: vit_mini, dim: 32, depth: 2, heads: 2, patch_size: 7}"));
    out.set("method.decoder_dim", YAML::Node(16));
  }
  return out;
}

}  // namespace selfsup::testing
