#include "selfsup/run/weights.h"

#include <filesystem>

#include "common.h"
#include "selfsup/data/npy.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/nets/state_dict.h"

namespace selfsup::run {

namespace fs = std::filesystem;

namespace {
nlohmann::json normalization_json(const train::Normalization& n) {
  return {{"mean", n.mean}, {"std", n.std}, {"input", "images in [0, 1], then (x - mean) / std per channel"}};
}
}  // namespace

nlohmann::json export_encoder(const std::string& checkpoint, const std::string& path, const std::string& format) {
  TORCH_CHECK(format == "torch" || format == "safetensors", "export: --format must be torch or safetensors, got '",
              format, "'");
  TORCH_CHECK(!path.empty(), "export needs --out FILE");
  auto l = detail::load_run(checkpoint, 0, "cpu", {});
  const auto encoder = l.method->encoder();
  const auto definition = nets::pytorch_definition(encoder);
  const auto norm = normalization_json(l.context.norm);
  const auto state = nets::state_dict(*encoder);
  if (format == "torch") {
    const auto bytes = nets::torch_file_bytes(state);
    train::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  } else {
    train::write_file_atomic(path, nets::safetensors_bytes(state, {{"format", "pt"},
                                                                    {"selfsup.definition", definition.dump()},
                                                                    {"selfsup.normalization", norm.dump()}}));
  }
  return {{"checkpoint", checkpoint}, {"step", l.state.step},        {"file", path},
          {"format", format},         {"tensors", state.size()},     {"definition", definition},
          {"normalization", norm},    {"feature_dim", encoder->feature_dim()}};
}

nlohmann::json embed(const std::string& checkpoint, const std::string& split, const std::string& out_dir,
                     int threads, const std::string& device) {
  TORCH_CHECK(split == "test" || split == "train" || split == "val", "embed: --split must be test, train or val, got '",
              split, "'");
  TORCH_CHECK(!out_dir.empty(), "embed needs --out DIR");
  auto l = detail::load_run(checkpoint, threads, device, {});
  const auto& c = l.context;
  data::Dataset images = split == "train" ? c.data.train : c.data.test;
  if (split == "val") images = eval::scored_split(c.data, eval::EvalOptions().split("val"), c.seed).test;
  const auto encoder = l.method->encoder();
  const auto features =
      eval::extract_features([&](const torch::Tensor& x) { return encoder->forward(x); }, images.images, c.norm, c.device)
          .to(torch::kCPU, torch::kFloat32);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  TORCH_CHECK(!ec, "embed: cannot create the folder ", out_dir, ": ", ec.message());
  train::write_file_atomic((fs::path(out_dir) / "features.npy").string(), data::npy_bytes(features));
  train::write_file_atomic((fs::path(out_dir) / "labels.npy").string(),
                           data::npy_bytes(images.labels.to(torch::kCPU, torch::kLong)));
  nlohmann::json j{{"checkpoint", checkpoint}, {"step", l.state.step}, {"split", split},
                   {"images", images.size()},  {"feature_dim", features.size(1)},
                   {"files", nlohmann::json::array({"features.npy", "labels.npy"})}, {"normalization", normalization_json(c.norm)}};
  train::write_file_atomic((fs::path(out_dir) / "embedding.json").string(), j.dump(2) + "\n");
  return j;
}

}  // namespace selfsup::run
