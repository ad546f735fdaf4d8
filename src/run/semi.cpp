#include "selfsup/run/semi.h"

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/io.h"
#include "selfsup/data/label_noise.h"
#include "selfsup/data/npy.h"
#include "selfsup/data/splits.h"
#include "selfsup/dist/dist.h"
#include "selfsup/eval/classifier.h"
#include "selfsup/methods/semi.h"
#include "selfsup/nets/batchnorm.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/transfer.h"

namespace selfsup::run {
namespace {

// data.label_noise and data.noise_rate: synthetic noise on the labeled set only; the validation
// split and the test set keep their true labels, so what they score is the truth.
data::LabelNoiseOptions label_noise(const Config& cfg, uint64_t seed) {
  const auto type = data::label_noise_from_name(cfg.get<std::string>("data.label_noise", "none"));
  const double rate = cfg.get<double>("data.noise_rate", 0.0);
  TORCH_CHECK(type != data::LabelNoise::kNone || rate == 0, "data.noise_rate is ", rate,
              " but data.label_noise is none: name the noise (symmetric or pairflip)");
  return data::LabelNoiseOptions().type(type).rate(rate).seed(derive_seed(seed, "label_noise"));
}

// A .npy file of a label-model folder; errors name its path.
torch::Tensor read_npy(const std::string& dir, const char* name) {
  const std::string path = dir + "/" + name;
  auto bytes = data::FileReader(path).read_all();
  return data::parse_npy(std::string(bytes.begin(), bytes.end()), path);
}

struct SoftLabels {
  torch::Tensor labeled;  // indices into the training set
  torch::Tensor probabilities;
};

// data.soft_labels: a `selfsup weak label-model` folder over every training image. The labeled set
// becomes the images of the split's labeled part that some function voted on, with the label
// model's probabilities (and their argmax as the hard label); their true labels are never read.
SoftLabels soft_labels(const std::string& dir, const torch::Tensor& labeled, int64_t train_size, int64_t classes) {
  const auto probs = read_npy(dir, "probabilities.npy").to(torch::kFloat32);
  const auto covered = read_npy(dir, "covered.npy").to(torch::kBool).flatten();
  TORCH_CHECK(probs.dim() == 2 && probs.size(0) == train_size && probs.size(1) == classes, "data.soft_labels: ", dir,
              "/probabilities.npy must be [", train_size, ", ", classes, "] (every training image, every class), got ",
              probs.sizes());
  TORCH_CHECK(covered.size(0) == train_size, "data.soft_labels: ", dir, "/covered.npy must have ", train_size,
              " entries, got ", covered.size(0));
  TORCH_CHECK(torch::isfinite(probs).all().item<bool>() && probs.ge(0).all().item<bool>(), "data.soft_labels: ", dir,
              "/probabilities.npy holds a negative or non-finite value");
  const auto idx = labeled.to(torch::kCPU);
  const auto kept = idx.index_select(0, covered.index_select(0, idx).nonzero().flatten());
  TORCH_CHECK(kept.numel() > 0, "data.soft_labels: no labeling function voted on any training image");
  auto p = probs.index_select(0, kept);
  return {kept, p / p.sum(1, true).clamp_min(1e-12)};
}

/// The run's draw of labeled, unlabeled and validation images (data.labels_per_class,
/// data.val_per_class, the seed).
struct Draw {
  int64_t per_class = 0, val_per_class = 0;
  data::SemiSplit split;
};
Draw draw_of(const Config& cfg, const data::Dataset& train, uint64_t seed) {
  Draw d;
  d.per_class = cfg.get<int64_t>("data.labels_per_class", 10);
  d.val_per_class = cfg.get<int64_t>("data.val_per_class", 100);
  d.split = data::semi_split(train.labels, d.per_class, d.val_per_class, seed);
  return d;
}

std::vector<int64_t> index_list(const torch::Tensor& t) {
  const auto v = t.to(torch::kCPU, torch::kLong).contiguous();
  return {v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + v.numel()};
}

}  // namespace

nlohmann::json semi_split_indices(const Config& cfg) {
  const auto c = detail::setup(cfg);
  const auto d = draw_of(cfg, c.data.train, c.seed);
  return {{"dataset", c.data.train.name},
          {"train_size", c.data.train.size()},
          {"seed", c.seed},
          {"labels_per_class", d.per_class},
          {"val_per_class", d.val_per_class},
          {"labeled", index_list(d.split.labeled)},
          {"unlabeled", index_list(d.split.unlabeled)},
          {"val", index_list(d.split.val)}};
}

nlohmann::json semi(Config cfg, const RunOptions& ro, const std::string& init,
                    const std::function<void(methods::SemiMethodImpl&)>& prepare) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), {methods::Kind::kSemiSupervised, methods::Kind::kSupervised},
                              "semi");
  const bool sync_bn = detail::join_ranks(cfg);
  auto c = detail::setup(cfg);
  const auto draw = draw_of(cfg, c.data.train, c.seed);
  const int64_t per_class = draw.per_class;
  const auto& split = draw.split;
  const auto soft_dir = cfg.get<std::string>("data.soft_labels", "");
  const auto soft = soft_dir.empty() ? SoftLabels{split.labeled, {}}
                                     : soft_labels(soft_dir, split.labeled, c.data.train.size(), c.data.train.num_classes());
  auto labeled = c.data.train.subset(soft.labeled.to(split.labeled.device()));
  if (soft.probabilities.defined()) labeled.labels = soft.probabilities.argmax(1).to(labeled.labels.device());
  const auto unlabeled = c.data.train.subset(split.unlabeled), val = c.data.train.subset(split.val);
  const auto noise = label_noise(cfg, c.seed);
  TORCH_CHECK(noise.type() == data::LabelNoise::kNone || soft_dir.empty(),
              "data.label_noise corrupts true labels; data.soft_labels brings a label model's: use one or the other");
  const auto true_labels = labeled.labels;
  labeled.labels = data::corrupt_labels(labeled.labels, labeled.num_classes(), noise);
  const int64_t size = c.data.train.height(), channels = c.data.train.channels();
  methods::DataSpec spec{channels, size, c.data.train.num_classes(), unlabeled.size(), labeled.size(), c.seed};
  spec.soft_targets = soft.probabilities;
  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_semi_method(cfg, spec);
  method->to(c.device);
  if (sync_bn) nets::set_sync_batchnorm(*method, true);
  const bool probe = cfg.get<bool>("train.probe_head", false);
  TORCH_CHECK(!probe || !init.empty() || ro.resume, "train.probe_head fits the head on a pretrained encoder's features: it needs --init");
  nlohmann::json probed;
  if (!init.empty() && !ro.resume) {
    train::init_from_pretrained(init, *method, spec);
    if (probe) {
      const auto h = eval::probe_head(*method, labeled, val, c.norm, c.device);
      probed = {{"l2", h.l2}, {"val_acc", h.val_accuracy}};
    }
  }

  if (prepare && !ro.resume) prepare(*method);

  auto loader = detail::two_stream_loader(cfg, c, labeled, unlabeled, method->unlabeled_views(), method->mu(), "loader");
  train::Trainer trainer(cfg, method, *loader, detail::trainer_options(cfg, ro), dir);
  const bool regularized = detail::add_regularization(cfg, *method, trainer);
  const auto report_options = ReportOptions::from_config(cfg);
  cfg.check_all_used();

  dir.start(cfg);
  const auto result = trainer.fit();
  auto s = detail::train_summary(cfg, c, result);
  s.update({{"labels_per_class", per_class}, {"labeled", labeled.size()}, {"unlabeled", unlabeled.size()},
            {"validation", val.size()}, {"init", init}});
  if (noise.type() != data::LabelNoise::kNone) {
    s["label_noise"] = {{"type", data::label_noise_name(noise.type())},
                        {"rate", noise.rate()},
                        {"corrupted", labeled.labels.ne(true_labels).to(torch::kFloat64).mean().item<double>()}};
  }
  if (!soft_dir.empty()) {
    s["soft_labels"] = {{"folder", soft_dir}, {"images", labeled.size()}, {"not_covered", split.labeled.size(0) - labeled.size()}};
  }
  if (!probed.is_null()) s["probe_head"] = probed;
  if (!ro.summary_extra.is_null()) s.update(ro.summary_extra);
  // The loader counts epochs over the stream it has: the unlabeled one, or the labeled one (mu 0).
  s[method->mu() > 0 ? "unlabeled_epochs" : "labeled_epochs"] = static_cast<double>(result.steps) / loader->steps_per_epoch();
  s["steps_per_second"] = result.train_seconds > 0 ? result.steps / result.train_seconds : 0.0;
  if (regularized) s["sparsity"] = detail::report_sparsity(dir, *method, size);
  if (!dist::is_main()) return s;  // rank 0 alone evaluates and writes the summary
  if (ro.evaluate && !train::stop_requested()) {
    s.update(detail::evaluated(
        dir, [&] { return eval::classifier_report(*method, {val, c.data.test, unlabeled}, c.norm, c.device); }));
    std::cerr << "test accuracy " << s["test_acc"] << " (EMA " << s["test_acc_ema"] << "), validation " << s["val_acc"]
              << " (EMA " << s["val_acc_ema"] << ")\n";
  }
  dir.write_summary(s);
  detail::write_report(dir, cfg, c, *method, report_options, ro);
  return s;
}

}  // namespace selfsup::run
