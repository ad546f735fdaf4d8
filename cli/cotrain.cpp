// selfsup cotrain
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/run/cotrain.h"

namespace selfsup::cli {
void register_cotrain(CLI::App& app) {
  static run::CoTrainOptions o;
  auto* c = app.add_subcommand("cotrain", "classic co-training (Blum & Mitchell) of two linear classifiers on two "
                                          "feature views of the same images, from a few labels per class");
  c->add_option("--train1", o.train1, "view 1 of the training images: a folder with features.npy and labels.npy "
                                      "(selfsup embed --split train)")->required();
  c->add_option("--train2", o.train2, "view 2 of the same training images, in the same order")->required();
  c->add_option("--test1", o.test1, "view 1 of the test images (selfsup embed --split test)")->required();
  c->add_option("--test2", o.test2, "view 2 of the same test images")->required();
  c->add_option("--out", o.out, "the folder for cotrain.json and cotrain.png")->required();
  c->add_option("--labels-per-class", o.labels_per_class, "labeled images per class (the draw of selfsup semi)")
      ->check(CLI::PositiveNumber);
  c->add_option("--val-per-class", o.val_per_class, "validation images per class, held out of both streams")
      ->check(CLI::PositiveNumber);
  c->add_option("--seed", o.seed, "the label draw (as selfsup semi --seed)");
  c->add_option("--rounds", o.rounds, "rounds of labeling")->check(not_negative());
  c->add_option("--per-class", o.per_class, "unlabeled images each view labels per class and round")
      ->check(CLI::PositiveNumber);
  c->add_flag("--overwrite", o.overwrite, "replace a co-training run in --out");
  c->add_flag("--quiet", o.quiet, "no line per round");
  c->callback([] { std::cout << run::cotrain(o).dump(2) << std::endl; });
}
}  // namespace selfsup::cli
