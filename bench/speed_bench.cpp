// The C++ phases of bench/run_speed_bench.py (the end-to-end phase is `selfsup pretrain` itself):
//   augment  the loader's views alone, on one intra-op thread as the prefetch thread runs them
//   compute  forward + backward + optimizer step on one ready batch, on the training threads
//   gemm     an fp32 2048x2048 matmul: this machine's reference FLOP rate, measured in this run
// and the compute phase's achieved FLOP rate (about 3x the forward FLOPs per image: forward, the
// gradient of the input and of the weights) as a share of the GEMM rate.
//
// usage: speed_bench CONFIG [--steps N] [--warmup W] [--profile TRACE.json] [--set key=value ...]
// Prints parseable lines:  selfsup phase=compute images_per_s=... precision=fp32
// --profile also records 5 more compute steps with LibTorch's profiler into a Chrome trace;
// bench/profile_summary.py turns it into self time per op.
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "selfsup/core/runtime.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/train/loader.h"
#include "selfsup/train/optim.h"
#include "selfsup/train/precision.h"

#include <torch/csrc/autograd/profiler_legacy.h>

using namespace selfsup;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_of(int warmup, int steps, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  const auto t = Clock::now();
  for (int i = 0; i < steps; ++i) f();
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Multiply-accumulates of every Linear layer for one input row.
double linear_macs(const torch::nn::Module& m) {
  double macs = 0;
  m.apply([&](const torch::nn::Module& sub) {
    if (const auto* l = sub.as<torch::nn::LinearImpl>()) {
      macs += static_cast<double>(l->options.in_features()) * l->options.out_features();
    }
  });
  return macs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: speed_bench CONFIG [--steps N] [--warmup W] [--set key=value ...]\n";
    return 2;
  }
  try {
    auto cfg = Config::load(argv[1]);
    int steps = 30, warmup = 5;
    std::string profile;
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      TORCH_CHECK(i + 1 < argc, "speed_bench: ", a, " needs a value");
      if (a == "--steps") {
        steps = std::stoi(argv[++i]);
      } else if (a == "--warmup") {
        warmup = std::stoi(argv[++i]);
      } else if (a == "--profile") {
        profile = argv[++i];
      } else if (a == "--set") {
        cfg.set(argv[++i]);
      } else {
        TORCH_CHECK(false, "speed_bench: unknown argument ", a);
      }
    }
    init_runtime(cfg.get<int>("train.threads", 0));
    const int train_threads = at::get_num_threads();
    const auto precision = cfg.get<std::string>("precision", "fp32");
    const bool bf16 = precision == "bf16";
    auto splits = data::load_dataset(cfg);
    auto norm = train::Normalization::from_config(cfg, splits.train.images);
    methods::DataSpec spec{splits.train.channels(), splits.train.height(), splits.train.num_classes()};
    auto method = methods::make_method(cfg, spec);
    const int64_t bs = cfg.get<int64_t>("train.batch_size", 256);
    auto views = train::views_from_config(cfg, spec.channels, spec.image_size, method->num_views());
    train::ViewLoader loader(splits.train, views, norm, train::LoaderOptions().batch_size(bs).prefetch(false),
                             torch::kCPU);
    train::Optimizer opt(method->parameters(), train::OptimizerOptions::from_config(cfg));
    auto line = [&](const char* phase, double images_per_s) {
      std::cout << "selfsup phase=" << phase << " images_per_s=" << images_per_s << " precision=" << precision
                << " batch=" << bs << " threads=" << train_threads << std::endl;
    };

    int64_t next = 0;
    at::set_num_threads(1);  // as the loader's prefetch thread
    line("augment", bs * steps / seconds_of(warmup, steps, [&] { loader.batch_at(next++); }));
    at::set_num_threads(train_threads);

    auto batch = loader.batch_at(0);
    // `--set channels_last=true`: NHWC weights and inputs (oneDNN's preferred layout on CPU).
    const auto layout = cfg.get<bool>("channels_last", false) ? torch::MemoryFormat::ChannelsLast
                                                              : torch::MemoryFormat::Contiguous;
    if (layout == torch::MemoryFormat::ChannelsLast) {
      torch::NoGradGuard no_grad;
      for (auto& p : method->parameters()) {
        if (p.dim() == 4) p.set_data(p.contiguous(layout));
      }
      for (auto& v : batch.views) v = v.contiguous(layout);
    }
    auto step = [&] {
      opt.zero_grad();
      methods::StepOutput out;
      {
        train::AutocastScope autocast(bf16, torch::kCPU);
        out = method->training_step(batch);
      }
      out.loss.backward();
      opt.step();
      method->after_optimizer_step(1, 100);
      (void)out.loss.item<double>();
    };
    const double compute_s = seconds_of(warmup, steps, step);
    if (!profile.empty()) {
      std::ofstream trace(profile);
      TORCH_CHECK(trace, "speed_bench: cannot write --profile ", profile);
      torch::autograd::profiler::RecordProfile guard(trace);
      for (int i = 0; i < 5; ++i) step();
    }
    line(layout == torch::MemoryFormat::ChannelsLast ? "compute_channels_last" : "compute", bs * steps / compute_s);

    const int64_t n = 2048;
    torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
    const int reps = 10;
    const double gemm_s = seconds_of(2, reps, [&] { at::mm_out(c, a, b); });
    const double gemm_flops = 2.0 * n * n * n * reps / gemm_s;

    const double per_image = nets::forward_flops(*method->encoder(), spec.image_size) + linear_macs(*method);
    const double step_flops = 3.0 * 2.0 * per_image * bs * static_cast<double>(method->num_views());
    const double achieved = step_flops * steps / compute_s;
    std::cout << "selfsup gemm_fp32_gflops=" << gemm_flops / 1e9 << " step_gflop=" << step_flops / 1e9
              << " compute_gflops=" << achieved / 1e9 << " share_of_gemm=" << achieved / gemm_flops
              << " precision=" << precision << std::endl;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.msg() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
