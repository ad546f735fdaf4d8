#pragma once
// The library form of `selfsup semi`: a classifier from `data.labels_per_class` labels per class
// plus the rest of the training set as unlabeled data (minus a validation split that neither
// stream ever sees), then test accuracy of the last and the EMA model.
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/data/dataset.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/methods/semi.h"
#include "selfsup/run/pretrain.h"

namespace selfsup::run {

/// Trains the semi-supervised method in `cfg`. `init_checkpoint` (optional) is a `pretrain`
/// checkpoint whose encoder initialises the classifier's backbone (SimCLRv2-style: pretrain,
/// then semi-supervised fine-tuning). Writes config.yaml, metrics.jsonl (with mask_rate and
/// pseudo_label_acc per logged step), last.ckpt and summary.json into options.out_dir.
nlohmann::json semi(Config cfg, const RunOptions& options, const std::string& init_checkpoint = "");

/// What `--init` does: copies the encoder of the `pretrain` checkpoint into the backbone of
/// `method`'s student and EMA model and, when their classifier has a hidden layer
/// (model.classifier_hidden_dim), the projector's first Linear and BatchNorm into it. Throws,
/// naming the checkpoint and the first tensor that does not fit, when the shapes differ.
void init_from_pretrained(const std::string& checkpoint, methods::SemiMethodImpl& method,
                          const methods::DataSpec& spec);

/// LP-FT (Kumar et al., 2022), `train.probe_head: true` after `--init`: fine-tuning under a
/// random head sends random gradients into the pretrained features and, in FixMatch, makes the
/// first pseudo-labels noise. So the head of student and EMA is first fitted as a linear probe on
/// the frozen features (through the hidden layer when there is one) of the labeled images and
/// their mirror images, its L2 strength chosen on `val`. Returns the fitted head.
eval::LinearHead probe_head(methods::SemiMethodImpl& method, const data::Dataset& labeled, const data::Dataset& val,
                            const train::Normalization& norm, torch::Device device);

}  // namespace selfsup::run
