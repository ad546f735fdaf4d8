// Two-view SimCLR augmentation throughput (source images per second, each giving 2 views), the
// side-by-side counterpart of bench/python/augment_torchvision.py (bench/run_augment_bench.sh
// runs both). Pipeline: random_resized_crop (scale [0.2, 1]) + hflip 0.5 + color_jitter
// 0.4/0.4/0.4/0.1 p 0.8 + grayscale 0.2, on random uint8 data drawn in shuffled batches of 256.
//
// Prints one parseable line per shape (images_per_cpu_s: per second of process CPU time, all
// threads together, a steadier figure when other processes share the machine):
//   selfsup shape=28x28x1 images_per_s=123456.7 views_per_image=2 batch=256 threads=2
//   images_per_cpu_s=...
// Options: --reps N (timed repetitions, the median is printed; default 5), --batches N (batches
// per repetition; default 40), --batch N (default 256), --threads N (default 2), --shapes
// 28x28x1,32x32x3, --profile (time per op), --trace FILE (chrome trace of every ATen op, written
// to FILE.<shape>, for chrome://tracing).
#include <ATen/Parallel.h>
#include <time.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/runtime.h"

namespace A = selfsup::augment;

namespace {

struct Args {
  int reps = 5, batches = 40, threads = 2, batch = 256;
  std::string shapes = "28x28x1,32x32x3";
  bool profile = false;
  std::string trace;  // chrome trace of the ops of the timed batches
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "error: " << k << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--reps")
      a.reps = std::stoi(value());
    else if (k == "--batches")
      a.batches = std::stoi(value());
    else if (k == "--threads")
      a.threads = std::stoi(value());
    else if (k == "--batch")
      a.batch = std::stoi(value());
    else if (k == "--shapes")
      a.shapes = value();
    else if (k == "--profile")
      a.profile = true;
    else if (k == "--trace")
      a.trace = value();
    else {
      std::cerr << "error: unknown option " << k
                << " (known: --reps --batches --threads --batch --shapes --profile --trace FILE)\n";
      std::exit(2);
    }
  }
  if (a.reps < 1 || a.batches < 1 || a.threads < 1 || a.batch < 1) {
    std::cerr << "error: --reps, --batches, --threads and --batch must be positive\n";
    std::exit(2);
  }
  return a;
}

A::Pipeline simclr(int64_t size) {
  A::Pipeline p;
  p.emplace<A::RandomResizedCrop>(A::RandomResizedCropOptions(size).scale({0.2, 1.0}));
  p.emplace<A::HorizontalFlip>(A::HorizontalFlipOptions().p(0.5));
  p.emplace<A::ColorJitter>(
      A::ColorJitterOptions().brightness(0.4).contrast(0.4).saturation(0.4).hue(0.1).p(0.8));
  p.emplace<A::RandomGrayscale>(A::RandomGrayscaleOptions().p(0.2));
  return p;
}

// CPU time of the whole process (all threads): a work measure that other processes disturb less
// than wall time.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Per-op time of one view pipeline, run op by op (no fusion), the fastest of `iters` runs each
// (robust to other processes), and of the whole pipeline.
void profile(const A::Pipeline& p, const torch::Tensor& batch, torch::Generator& gen, int iters) {
  std::vector<double> best(p.size(), 1e9);
  double whole = 1e9;
  for (int it = 0; it < iters; ++it) {
    torch::Tensor x = batch.to(torch::kFloat).div_(255);
    bool owned = true;
    for (size_t k = 0; k < p.size(); ++k) {
      auto t0 = std::chrono::steady_clock::now();
      torch::Tensor y = p.transforms()[k]->apply(x, gen, owned);
      best[k] = std::min(best[k], seconds_since(t0));
      owned = owned || !y.is_same(x);
      x = y;
    }
    auto t0 = std::chrono::steady_clock::now();
    p(batch, gen);
    whole = std::min(whole, seconds_since(t0));
  }
  for (size_t k = 0; k < p.size(); ++k) {
    std::printf("  %-22s %8.3f ms/batch (fastest)\n", p.transforms()[k]->name().c_str(),
                1e3 * best[k]);
  }
  std::printf("  %-22s %8.3f ms/batch (fastest, with fusion)\n", "whole view", 1e3 * whole);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  selfsup::init_runtime(args.threads);
  at::set_num_threads(args.threads);
  torch::NoGradGuard no_grad;
  std::stringstream list(args.shapes);
  std::string shape;
  while (std::getline(list, shape, ',')) {
    int64_t h = 0, w = 0, c = 0;
    if (std::sscanf(shape.c_str(), "%ldx%ldx%ld", &h, &w, &c) != 3) {
      std::cerr << "error: bad shape '" << shape << "' (expected HxWxC)\n";
      return 2;
    }
    torch::Generator gen = selfsup::make_generator(0);
    const int64_t n = args.batch * 12;
    torch::Tensor images = torch::randint(0, 256, {n, c, h, w}, gen, torch::kByte);
    A::ViewSet views;
    views.add("view1", simclr(h)).add("view2", simclr(h));
    int64_t cursor = n;
    torch::Tensor order;
    auto next_batch = [&] {
      if (cursor + args.batch > n) {
        order = torch::randperm(n, gen);
        cursor = 0;
      }
      torch::Tensor b = images.index_select(0, order.narrow(0, cursor, args.batch));
      cursor += args.batch;
      return b;
    };
    for (int i = 0; i < 5; ++i) views(next_batch(), gen);  // warm-up: allocator, thread pool
    std::vector<double> rates, cpu_rates;
    std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
    if (!args.trace.empty()) {
      trace = std::make_unique<torch::autograd::profiler::RecordProfile>(args.trace + "." + shape);
    }
    for (int r = 0; r < args.reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      for (int i = 0; i < args.batches; ++i) {
        auto out = views(next_batch(), gen);
        if (out.size() != 2) return 1;
      }
      rates.push_back(args.batches * args.batch / seconds_since(t0));
      cpu_rates.push_back(args.batches * args.batch / (cpu_seconds() - c0));
    }
    trace.reset();
    std::sort(rates.begin(), rates.end());
    std::sort(cpu_rates.begin(), cpu_rates.end());
    std::printf(
        "selfsup shape=%s images_per_s=%.1f views_per_image=2 batch=%d threads=%d "
        "images_per_cpu_s=%.1f\n",
        shape.c_str(), rates[rates.size() / 2], args.batch, args.threads,
        cpu_rates[cpu_rates.size() / 2]);
    std::fflush(stdout);
    if (args.profile) profile(views.pipeline(0), next_batch(), gen, 20);
  }
  return 0;
}
