#include <iostream>

#include "commands.h"
#include "selfsup/core/progress.h"
#include "selfsup/run/weights.h"
#include "selfsup/train/run_dir.h"

namespace selfsup::cli {
void register_weights(CLI::App& app) {
  static std::string checkpoint, out, format, split = "test", device;
  static int threads = 0;
  auto* ex = app.add_subcommand("export", "write a checkpoint's encoder as a PyTorch state dict (torch.load or safetensors)");
  ex->add_option("--checkpoint", checkpoint, "a run (its folder, or its checkpoint file)")->required();
  ex->add_option("--out", out, "the file to write")->required();
  ex->add_option("--format", format, "torch or safetensors (default: safetensors for a .safetensors file, else torch)")
      ->check(CLI::IsMember({"torch", "safetensors"}));
  ex->callback([] {
    const bool st = out.size() >= 12 && out.compare(out.size() - 12, 12, ".safetensors") == 0;
    const auto j = run::export_encoder(train::RunDir::checkpoint_of(checkpoint), out,
                                       format.empty() ? (st ? "safetensors" : "torch") : format);
    std::cout << j.dump(2) << std::endl;
  });

  auto* em = app.add_subcommand("embed", "write a checkpoint's features of a split's images as NumPy files");
  em->add_option("--checkpoint", checkpoint, "a run (its folder, or its checkpoint file)")->required();
  em->add_option("--out", out, "the folder for features.npy, labels.npy and embedding.json")->required();
  em->add_option("--split", split, "test, train, or val (the validation split of eval --split val)")
      ->check(CLI::IsMember({"test", "train", "val"}));
  em->add_option("--threads", threads, "intra-op threads (default: all cores)");
  em->add_option("--device", device, "cpu, cuda or cuda:N (default: the device the checkpoint was trained on)");
  static bool quiet = false;
  em->add_flag("--quiet", quiet, "no progress lines");
  em->callback([] {
    set_progress_enabled(!quiet);
    std::cout << run::embed(train::RunDir::checkpoint_of(checkpoint), split, out, threads, device).dump(2) << std::endl;
  });
}
}  // namespace selfsup::cli
