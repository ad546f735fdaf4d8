#include "selfsup/run/eval.h"

#include "common.h"
#include "selfsup/methods/method.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::run {

nlohmann::json evaluate_checkpoint(const std::string& checkpoint, const eval::EvalOptions& o, int threads,
                                   const std::string& device) {
  o.check();
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
  if (!device.empty()) cfg.set("device", YAML::Node(device));
  auto c = detail::setup(cfg);
  const auto& t = c.data.train;
  auto method = methods::make_method(
      cfg, {t.channels(), t.height(), t.num_classes()},
      {methods::Kind::kSelfSupervised, methods::Kind::kSemiSupervised, methods::Kind::kSupervised});
  method->to(c.device);
  train::load_checkpoint(checkpoint, *method, nullptr);
  method->eval();
  const auto encoder = method->encoder();
  auto j = eval::run_protocols([&](const torch::Tensor& x) { return encoder->forward(x); },
                               eval::scored_split(c.data, o, c.seed), c.norm, c.device, o, c.seed, encoder);
  j["checkpoint"] = checkpoint;
  j["step"] = state.step;
  return j;
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
