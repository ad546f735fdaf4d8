#include "selfsup/run/prune.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <tuple>
#include <iostream>

#include "common.h"
#include "selfsup/methods/semi.h"
#include "selfsup/nets/thin.h"
#include "selfsup/run/semi.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/transfer.h"

namespace selfsup::run {
namespace {

double classifier_macs(const methods::ClassifierImpl& c, int64_t size) {
  return nets::forward_flops(*c.backbone, size) + static_cast<double>(c.head->weight.numel());
}

int64_t conv_filters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (p.dim() == 4) n += p.size(0);
  }
  return n;
}

void copy_linear(const torch::nn::Linear& from, const torch::nn::Linear& to) {
  torch::NoGradGuard no_grad;
  to->weight.copy_(from->weight);
  to->bias.copy_(from->bias);
}

// Median milliseconds of each of two forward passes over the same batch, timed in turns so
// that both see the same machine load.
std::pair<double, double> time_side_by_side(const std::function<torch::Tensor()>& a,
                                            const std::function<torch::Tensor()>& b, int reps) {
  std::vector<double> ta, tb;
  auto ms = [](const std::function<torch::Tensor()>& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (int i = 0; i < 2; ++i) {
    a();
    b();
  }
  for (int i = 0; i < reps; ++i) {
    ta.push_back(ms(a));
    tb.push_back(ms(b));
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

}  // namespace

nlohmann::json prune(const std::string& checkpoint, const std::vector<std::string>& sets, const RunOptions& ro) {
  TORCH_CHECK(!ro.resume, "prune starts a fine-tuning run; continue an interrupted one with `selfsup semi --resume --out ",
              ro.out_dir, "`");
  const auto state = train::peek_checkpoint(checkpoint);
  Config source_cfg = Config::parse(state.config_yaml, checkpoint);
  Config cfg = Config::parse(state.config_yaml, checkpoint);
  for (const auto& s : sets) cfg.set(s);
  TORCH_CHECK(cfg.has("data.labels_per_class"), "prune fine-tunes as `selfsup semi`, and ", checkpoint,
              " has no data.labels_per_class: pass --set data.labels_per_class=N");
  auto c = detail::setup(source_cfg);
  const int64_t size = c.data.train.height();
  const methods::DataSpec spec{c.data.train.channels(), size, c.data.train.num_classes(), 0, 0, c.seed};
  auto source = train::load_pretrained(checkpoint, spec);
  auto* semi_source = dynamic_cast<methods::SemiMethodImpl*>(source.get());
  TORCH_CHECK(semi_source != nullptr, "prune thins a classifier (a semi or supervised run); ", checkpoint, " holds ",
              source_cfg.get<std::string>("method.name", "?"));
  auto& student = semi_source->student;
  TORCH_CHECK(!student->hidden, "prune: a classifier with model.classifier_hidden_dim cannot be thinned");
  source->eval();
  auto thinned = nets::thin(*student->backbone, student->head);

  // The outputs of the thinned classifier against the original's on test images, and the time of
  // each on them.
  const int64_t n = std::min<int64_t>(256, c.data.test.images.size(0));
  double moved = 0, ms_before = 0, ms_after = 0;
  {
    torch::NoGradGuard no_grad;
    const auto x = c.norm.apply(c.data.test.images.slice(0, 0, n).to(torch::kFloat32).div(255)).to(c.device);
    thinned.backbone->eval();
    auto original = [&] { return student->forward(x); };
    auto thin = [&] { return thinned.head->forward(thinned.backbone->forward(x)); };
    moved = (original() - thin()).abs().max().item<double>();
    std::tie(ms_before, ms_after) = time_side_by_side(original, thin, 15);
  }

  cfg.set(thinned.widths_key, YAML::Node(thinned.widths));
  const double macs_before = classifier_macs(*student, size);
  const double macs_after =
      nets::forward_flops(*thinned.backbone, size) + static_cast<double>(thinned.head->weight.numel());
  const int64_t params_before = nets::count_parameters(*student);
  const int64_t params_after = nets::count_parameters(*thinned.backbone) + nets::count_parameters(*thinned.head);
  const int64_t filters_before = conv_filters(*student->backbone), filters_after = conv_filters(*thinned.backbone);
  RunOptions options = ro;
  options.summary_extra = {{"prune",
                            {{"source", checkpoint},
                             {thinned.widths_key, thinned.widths},
                             {"filters_before", filters_before},
                             {"filters_after", filters_after},
                             {"params_before", params_before},
                             {"params_after", params_after},
                             {"macs_before", macs_before},
                             {"macs_after", macs_after},
                             {"max_logit_change", moved},
                             {"infer_batch", n},
                             {"infer_ms_before", ms_before},
                             {"infer_ms_after", ms_after},
                             {"infer_speedup", ms_before / ms_after}}}};
  std::cerr << "thinned: filters " << filters_before << " -> " << filters_after << ", MACs " << macs_before << " -> "
            << macs_after << " (" << macs_before / macs_after << "x fewer), " << thinned.widths_key << " ["
            << c10::Join(", ", thinned.widths) << "]" << "; largest logit change on " << n << " test images " << moved
            << "; inference of " << n << " images " << ms_before << " ms -> " << ms_after << " ms ("
            << ms_before / ms_after << "x)\n";
  return semi(cfg, options, "", [&](methods::SemiMethodImpl& m) {
    for (auto* target : {&m.student, &m.ema}) {
      if (!*target) continue;
      train::copy_encoder(thinned.backbone, (*target)->backbone, "the thinned classifier");
      copy_linear(thinned.head, (*target)->head);
    }
  });
}

}  // namespace selfsup::run
