// selfsup denoise train | apply | eval
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/core/progress.h"
#include "selfsup/dist/dist.h"
#include "selfsup/run/denoise.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::cli {
void register_denoise(CLI::App& app) {
  auto* dn = app.add_subcommand("denoise", "image denoising from noisy images alone (n2n, n2v, nb2nb; n2c the bound)");
  dn->require_subcommand(1);

  static RunFlags train_flags;
  auto* tr = dn->add_subcommand("train", "train a denoiser on patches of a folder's images, then score it on the "
                                         "held-out ones (PSNR / SSIM) and draw denoise_examples.png");
  add_run_flags(tr, train_flags);
  tr->callback([] {
    const auto ro = start_run(train_flags, "denoise train");
    auto summary = run::denoise_train(train_flags.resume ? Config() : resolve_config(train_flags), ro);
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static run::DenoiseApplyOptions apply;
  auto* ap = dn->add_subcommand("apply", "denoise one image file (PNG or JPEG, gray or RGB, any size)");
  ap->add_option("--checkpoint", apply.checkpoint, "a denoise run (its folder, or its checkpoint file)")->required();
  ap->add_option("--in", apply.in, "the noisy image")->required();
  ap->add_option("--out", apply.out, "the denoised image to write (.png, .jpg)")->required();
  ap->add_option("--threads", apply.threads, "intra-op threads (default: all cores)");
  ap->add_option("--device", apply.device, "cpu, cuda or cuda:N (default: the device it was trained on)");
  ap->callback([] { std::cout << run::denoise_apply(apply).dump(2) << std::endl; });

  static run::DenoiseEvalOptions ev;
  static std::string ev_out;
  static bool ev_quiet = false;
  auto* e = dn->add_subcommand("eval", "PSNR / SSIM of denoisers and classical filters on the same noisy images");
  e->add_option("--checkpoint", ev.checkpoints, "a denoise run (repeatable)");
  e->add_option("--filter", ev.filters, "a classical filter, its strength chosen on data.val: gaussian_blur or nlm "
                                        "(repeatable)")
      ->check(CLI::IsMember({"gaussian_blur", "nlm"}));
  e->add_option("--config", ev.config, "the data and noise (default: the first checkpoint's config)");
  e->add_option("--in", ev.in, "score every image of this folder (clean) instead of data.test");
  e->add_option("--examples", ev.examples, "write the examples picture (PNG) here");
  e->add_option("--out", ev_out, "also write the figures (JSON) here");
  e->add_option("--threads", ev.threads, "intra-op threads (default: all cores)");
  e->add_option("--device", ev.device, "cpu, cuda or cuda:N");
  e->add_flag("--quiet", ev_quiet, "no progress lines");
  e->callback([] {
    set_progress_enabled(!ev_quiet);
    const auto j = run::denoise_eval(ev);
    if (!ev_out.empty()) train::write_file_atomic(ev_out, j.dump(2) + "\n");
    std::cout << j.dump(2) << std::endl;
  });
}
}  // namespace selfsup::cli
