#pragma once
// The library form of `selfsup cotrain`: classic co-training (eval/cotrain.h) over two views of a
// data set's images given as feature files (what `selfsup embed` writes), on the same label draw
// as `selfsup semi --seed S`.
#include <nlohmann/json.hpp>
#include <string>

namespace selfsup::run {

struct CoTrainOptions {
  /// Folders holding features.npy (float [N, D]) and labels.npy (int [N]): each view of the
  /// training images (every one, in the data set's order: `selfsup embed --split train`) and of
  /// the test images.
  std::string train1, train2, test1, test2;
  std::string out;  // the folder for cotrain.json and cotrain.png
  int64_t labels_per_class = 10, val_per_class = 100;
  uint64_t seed = 0;  // the draw, as `selfsup semi --seed`
  int64_t rounds = 20, per_class = 5;
  bool overwrite = false, quiet = false;
};

/// Draws the labeled, unlabeled and validation images from the training labels
/// (data::semi_split), co-trains, and writes cotrain.json: per round each view's and the combined
/// classifier's validation and test accuracy, the labels added and how many of them were right
/// (the true labels of the unlabeled images are read for that count only), the round chosen by
/// the combined validation accuracy and its test accuracy; cotrain.png draws the rounds'
/// validation accuracies and the added labels' accuracy.
nlohmann::json cotrain(const CoTrainOptions& options);

}  // namespace selfsup::run
