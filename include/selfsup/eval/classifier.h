#pragma once
// How good a trained classifier is (`selfsup semi`'s summary): accuracy of the last and the EMA
// model on validation and test, the EMA model's per-class accuracy and confusion matrix, and how
// good its pseudo-labels of the unlabeled images are; and the linear probe that starts a
// classifier's head from a pretrained encoder (LP-FT).
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "selfsup/data/dataset.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/methods/semi.h"
#include "selfsup/train/loader.h"

namespace selfsup::eval {

/// The class `model` predicts for each image of `d` (eval mode is the caller's).
torch::Tensor predict(const Encode& model, const data::Dataset& d, const train::Normalization& norm,
                      torch::Device device);

/// The images a classifier is scored on.
struct ClassifierData {
  const data::Dataset& val;
  const data::Dataset& test;
  /// With their true labels, which are compared against only: how good the pseudo-labels are.
  const data::Dataset& unlabeled;
};

/// {val_acc, val_acc_ema, test_acc, test_acc_ema, val/test_acc_ema_per_class, test_confusion_ema,
/// unlabeled_acc} and, for a method with a confidence threshold, {unlabeled_threshold,
/// unlabeled_mask_rate, unlabeled_pseudo_label_acc} of the EMA model's predictions. Validation is
/// what any model selection may use; the test figures are reported.
nlohmann::json classifier_report(methods::SemiMethodImpl& method, const ClassifierData& data,
                                 const train::Normalization& norm, torch::Device device);

/// LP-FT (Kumar et al., 2022), `train.probe_head: true` after `--init`: fine-tuning under a
/// random head sends random gradients into the pretrained features and, in FixMatch, makes the
/// first pseudo-labels noise. So the head of student and EMA is first fitted as a linear probe on
/// the frozen features (through the hidden layer when there is one) of the labeled images and
/// their mirror images, its L2 strength chosen on `val`. Returns the fitted head.
LinearHead probe_head(methods::SemiMethodImpl& method, const data::Dataset& labeled, const data::Dataset& val,
                      const train::Normalization& norm, torch::Device device);

}  // namespace selfsup::eval
