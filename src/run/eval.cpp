#include "selfsup/run/eval.h"

#include "common.h"
#include "selfsup/eval/reconstruct.h"
#include "selfsup/methods/mae.h"
#include "selfsup/methods/method.h"

namespace selfsup::run {


nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const eval::EvalOptions& o, int threads,
                                   const std::string& device, const std::vector<std::string>& sets) {
  o.check();
  auto l = detail::load_run(checkpoint, threads, device, sets);
  const auto& c = l.context;
  const auto encoder = l.method->encoder();
  auto j = eval::run_protocols([&](const torch::Tensor& x) { return encoder->forward(x); },
                               eval::scored_split(c.data, o, c.seed), c.norm, c.device, o, c.seed, encoder);
  j["checkpoint"] = checkpoint;
  j["step"] = l.state.step;
  if (!sets.empty()) j["set"] = sets;
  return j;
}

nlohmann::json reconstruct_checkpoint(const std::string& checkpoint, const std::string& png_path, int threads,
                                      const std::string& device) {
  TORCH_CHECK(!png_path.empty(), "--reconstruct needs a file name for the picture");
  auto l = detail::load_run(checkpoint, threads, device, {});
  auto* model = dynamic_cast<methods::Reconstructs*>(l.method.get());
  TORCH_CHECK(model, "--reconstruct: the checkpoint's method '", l.method_name,
              "' does not reconstruct images; a masked autoencoder (mae) does");
  const auto& c = l.context;
  const auto shown = eval::picture_images(c.data.test);
  train::write_file_atomic(png_path, eval::reconstruction_png(*model, shown, c.norm, c.seed, c.device));
  return {{"checkpoint", checkpoint}, {"step", l.state.step}, {"reconstructions", png_path}, {"images", shown.size()}};
}

nlohmann::json evaluate_raw_pixels(const Config& cfg, const eval::EvalOptions& o) {
  o.check();
  auto c = detail::setup(cfg);
  auto j = eval::run_protocols([](const torch::Tensor& x) { return x.flatten(1); }, eval::scored_split(c.data, o, c.seed),
                               c.norm, c.device, o, c.seed);
  j["features"] = "raw pixels";
  return j;
}

}  // namespace selfsup::run
