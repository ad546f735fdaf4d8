// Where a training step's time goes: augmentation, forward+backward+step on ready tensors, and the
// whole loader+trainer step, for a config. Prints one line per phase (ms per step and images/s).
#include <ATen/autocast_mode.h>

#include <chrono>
#include <iostream>

#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/method.h"
#include "selfsup/train/optim.h"
#include "selfsup/train/loader.h"

using namespace selfsup;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: step_bench CONFIG [steps] [key=value ...]\n";
    return 2;
  }
  try {
    auto cfg = Config::load(argv[1]);
    const int steps = argc > 2 ? std::stoi(argv[2]) : 20;
    for (int i = 3; i < argc; ++i) cfg.set(argv[i]);
    init_runtime(cfg.get<int>("train.threads", 0));
    auto splits = data::load_dataset(cfg);
    auto norm = train::Normalization::from_config(cfg, splits.train.images);
    methods::DataSpec spec{splits.train.channels(), splits.train.height(), splits.train.num_classes()};
    auto method = methods::make_method(cfg, spec);
    const bool bf16 = cfg.get<std::string>("precision", "fp32") == "bf16";
    const int64_t bs = cfg.get<int64_t>("train.batch_size", 256);
    auto views = train::views_from_config(cfg, spec.channels, spec.image_size, method->num_views());
    train::ViewLoader loader(splits.train, views, norm, train::LoaderOptions().batch_size(bs).prefetch(false),
                             torch::kCPU);
    train::Optimizer opt(method->parameters(), train::OptimizerOptions::from_config(cfg));
    if (bf16) {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    const bool cl = cfg.get<bool>("channels_last", false);
    if (cl) {
      torch::NoGradGuard g;
      for (auto& p : method->parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
    auto time_it = [&](const char* what, const std::function<void(int)>& f) {
      f(0);
      f(1);
      auto t = Clock::now();
      for (int i = 0; i < steps; ++i) f(i + 2);
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count() / steps;
      std::cout << what << ": " << ms << " ms/step, " << bs * 1000.0 / ms << " images/s\n";
    };
    time_it("augment (2 views)", [&](int i) { loader.batch_at(i); });
    auto batch = loader.batch_at(0);
    if (cl) for (auto& v : batch.views) v = v.contiguous(torch::MemoryFormat::ChannelsLast);
    time_it("forward only", [&](int) {
      torch::NoGradGuard g;
      method->training_step(batch);
    });
    time_it("forward+backward+step", [&](int) {
      opt.zero_grad();
      auto out = method->training_step(batch);
      out.loss.backward();
      opt.step();
      method->after_optimizer_step(1, 100);
    });
    std::cout << "threads " << at::get_num_threads() << (bf16 ? " bf16" : " fp32") << "\n";
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.msg() << "\n";
    return 1;
  }
}
