// selfsup pretrain | semi | pu | prune | eval | methods
#include <cmath>
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/core/config.h"
#include "selfsup/core/progress.h"
#include "selfsup/dist/dist.h"
#include "selfsup/methods/method.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/run/eval.h"
#include "selfsup/run/pretrain.h"
#include "selfsup/run/prune.h"
#include "selfsup/run/pu.h"
#include "selfsup/run/semi.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/hooks.h"
#include "selfsup/train/run_dir.h"

namespace selfsup::cli {
void register_train(CLI::App& app) {
  static RunFlags pre;
  auto* pretrain = app.add_subcommand("pretrain", "self-supervised pretraining, then the eval section's protocols");
  add_run_flags(pretrain, pre);
  pretrain->callback([] {
    const auto ro = start_run(pre, "pretrain");
    auto summary = run::pretrain(pre.resume ? Config() : resolve_config(pre), ro);
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static RunFlags semi_flags;
  static std::string init;
  auto* semi = app.add_subcommand(
      "semi", "semi-supervised training from data.labels_per_class labels per class, then test accuracy");
  add_run_flags(semi, semi_flags);
  semi->add_option("--init", init, "start the classifier from a pretrain run (its folder, or its checkpoint file), or from an encoder's state dict (safetensors, or torch.save(model.state_dict()))");
  static std::string dump_split;
  semi->add_option("--dump-split", dump_split,
                   "write the labeled, unlabeled and validation indices of the config's draw (JSON) to this file and "
                   "stop, without training");
  semi->callback([] {
    if (!dump_split.empty()) {
      TORCH_CHECK(!semi_flags.config.empty(), "--dump-split needs --config FILE");
      const auto j = run::semi_split_indices(resolve_config(semi_flags));
      train::write_file_atomic(dump_split, j.dump() + "\n");
      std::cout << "labeled " << j["labeled"].size() << ", unlabeled " << j["unlabeled"].size() << ", validation "
                << j["val"].size() << " images of " << j["dataset"].get<std::string>() << " (seed "
                << j["seed"].get<uint64_t>() << ") written to " << dump_split << std::endl;
      return;
    }
    const auto ro = start_run(semi_flags, "semi");
    auto summary = run::semi(semi_flags.resume ? Config() : resolve_config(semi_flags), ro,
                             init.empty() ? init : train::RunDir::checkpoint_of(init));
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static RunFlags pu_flags;
  static std::string pu_init;
  auto* pu = app.add_subcommand(
      "pu", "positive-unlabeled learning: a binary classifier from labeled positives and unlabeled images");
  add_run_flags(pu, pu_flags);
  pu->add_option("--init", pu_init, "start the classifier from a pretrain run (its folder, or its checkpoint file), or from an encoder's state dict (safetensors, or torch.save(model.state_dict()))");
  pu->callback([] {
    const auto ro = start_run(pu_flags, "pu");
    auto summary = run::pu(pu_flags.resume ? Config() : resolve_config(pu_flags), ro,
                           pu_init.empty() ? pu_init : train::RunDir::checkpoint_of(pu_init));
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static RunFlags prune_flags;
  static std::string prune_source;
  auto* prune = app.add_subcommand(
      "prune", "remove a classifier's zero convolution filters (after group lasso), then fine-tune it as semi");
  prune->add_option("--checkpoint", prune_source, "the semi run to thin (its folder, or its checkpoint file)");
  prune->add_option("--out", prune_flags.out, "the fine-tuned thinned run's folder");
  prune->add_option("--set", prune_flags.sets, "override a key of the source run's config: --set train.epochs=5");
  prune->add_option("--time-limit", prune_flags.time_limit, "stop fine-tuning cleanly after this many seconds")
      ->check(not_negative());
  prune->add_flag("--overwrite", prune_flags.overwrite, "replace the run in --out");
  prune->add_flag("--no-eval", prune_flags.no_eval, "skip the evaluation at the end");
  prune->add_flag("--quiet", prune_flags.quiet, "no live progress line");
  prune->callback([] {
    TORCH_CHECK(!prune_source.empty(), "prune needs --checkpoint RUN_DIR");
    RunFlags f = prune_flags;
    f.config = prune_source;  // start_run's checks: the source stands in for --config
    const auto ro = start_run(f, "prune");
    auto summary = run::prune(train::RunDir::checkpoint_of(prune_source), prune_flags.sets, ro);
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static std::string checkpoint, protocol = "all", summary_out, config_for_raw;
  static int threads = 0;
  static std::vector<std::string> eval_sets;
  static bool raw = false;
  auto* ev = app.add_subcommand("eval", "evaluate a checkpoint (kNN, linear probe, fine-tuning, label propagation) on the test set");
  ev->add_option("--checkpoint", checkpoint, "a pretrain run to evaluate (its folder, or its checkpoint file)");
  ev->add_option("--protocol", protocol,
                 "knn | linear | finetune | propagate | all (all = knn + linear + finetune)")
      ->check(CLI::IsMember({"knn", "linear", "finetune", "propagate", "all"}));
  static int64_t labels_per_class = 10;
  ev->add_option("--labels-per-class", labels_per_class, "labels per class for the finetune and propagate protocols");
  ev->add_option("--threads", threads, "intra-op threads (default: all cores)");
  static std::string split = "test";
  ev->add_option("--split", split, "test (the real test set) or val (a validation split of the training set, "
                 "for choosing recipes)")->check(CLI::IsMember({"test", "val"}));
  static std::string device;
  ev->add_option("--device", device, "cpu, cuda or cuda:N (default: the device the checkpoint was trained on)");
  ev->add_option("--summary", summary_out, "also write the figures to this JSON file");
  static bool eval_quiet = false;
  ev->add_flag("--quiet", eval_quiet, "no progress lines");
  static std::string reconstruct_png;
  ev->add_option("--reconstruct", reconstruct_png,
                 "a masked autoencoder checkpoint: draw its reconstructions of test images into this PNG instead");
  ev->add_flag("--raw-pixels", raw, "score raw pixels instead of a checkpoint (the baseline to beat)");
  ev->add_option("--config", config_for_raw, "with --raw-pixels: config naming the data set");
  ev->add_option("--set", eval_sets,
                 "override a config key: the data set's with --raw-pixels, or one of the checkpoint's config that "
                 "leaves its weights as they are (--set model.pool=mean)");
  ev->callback([] {
    set_progress_enabled(!eval_quiet);
    std::vector<std::string> protocols = protocol == "all" ? std::vector<std::string>{"knn", "linear", "finetune"}
                                                           : std::vector<std::string>{protocol};
    TORCH_CHECK(!raw || reconstruct_png.empty(), "--reconstruct draws a checkpoint's reconstructions: it does not go "
                "with --raw-pixels");
    if (raw) protocols.erase(std::remove(protocols.begin(), protocols.end(), "finetune"), protocols.end());
    TORCH_CHECK(labels_per_class > 0, "--labels-per-class must be positive, got ", labels_per_class);
    const auto o = eval::EvalOptions()
                       .protocols(protocols)
                       .finetune_labels_per_class(labels_per_class)
                       .propagate_labels_per_class(labels_per_class)
                       .split(split);
    nlohmann::json j;
    if (raw) {
      Config cfg = config_for_raw.empty() ? Config() : Config::load(config_for_raw);
      for (const auto& s : eval_sets) cfg.set(s);
      if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
      if (!device.empty()) cfg.set("device", YAML::Node(device));
      j = run::evaluate_raw_pixels(cfg, o);
    } else if (!reconstruct_png.empty()) {
      TORCH_CHECK(!checkpoint.empty(), "eval --reconstruct needs --checkpoint RUN_DIR");
      j = run::reconstruct_checkpoint(train::RunDir::checkpoint_of(checkpoint), reconstruct_png, threads, device);
    } else {
      TORCH_CHECK(!checkpoint.empty(), "eval needs --checkpoint RUN_DIR (or --raw-pixels)");
      j = run::evaluate_checkpoint(train::RunDir::checkpoint_of(checkpoint), o, threads, device, eval_sets);
    }
    if (!summary_out.empty()) train::write_file_atomic(summary_out, j.dump(2) + "\n");
    std::cout << j.dump(2) << std::endl;
  });

  static std::string method_name;
  auto* list = app.add_subcommand("methods", "list every method, or one method's config keys with their defaults");
  list->add_option("name", method_name, "a method: print its config keys, defaults and what they do");
  list->callback([] {
    const auto& registry = methods::Registry::instance();
    if (!method_name.empty()) {
      const auto& m = registry.get(method_name);
      std::cout << m.name << " (" << methods::kind_name(m.kind) << "): " << m.description << "\n";
      for (const auto& k : m.keys.list()) {
        const std::string value = format_default(k.default_value);
        std::cout << "  " << k.key << ": " << value << std::string(value.size() + k.key.size() < 44 ? 44 - value.size() - k.key.size() : 1, ' ')
                  << "# " << k.help << "\n";
      }
      return;
    }
    for (const auto& m : registry.list()) {
      std::cout << m.name << std::string(m.name.size() < 14 ? 14 - m.name.size() : 1, ' ') << m.description << " ["
                << methods::kind_name(m.kind) << "]\n";
    }
  });
}

}  // namespace selfsup::cli
