#pragma once
// Moving pretrained weights into a new model: `selfsup semi --init` and `selfsup pu --init` start
// the classifier from a `pretrain` checkpoint's encoder and, when the classifier has a hidden
// layer, from the first layer of its projector (SimCLRv2 fine-tunes from there). The source
// method is asked for its encoder and projector; no parameter names are matched by hand.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "selfsup/methods/method.h"
#include "selfsup/methods/semi.h"

namespace selfsup::train {

/// The method a checkpoint was trained with, rebuilt from the config it carries and loaded.
methods::Method load_pretrained(const std::string& checkpoint, const methods::DataSpec& spec);

/// Copies `from`'s parameters and buffers into `to`, which must have the same architecture;
/// throws naming `what` and the first tensor that does not fit.
void copy_encoder(const nets::Backbone& from, const nets::Backbone& to, const std::string& what);

/// Copies the first Linear and BatchNorm of `projector` into `hidden` (a Linear - BatchNorm -
/// ReLU Sequential); throws naming `what` when there is no projector or the widths differ.
void copy_projector_first_layer(const nets::MLPHead& projector, const torch::nn::Sequential& hidden,
                                const std::string& what);

/// What `--init` does: from a state dict file (nets/state_dict.h: safetensors, or
/// torch.save(model.state_dict()) under the PyTorch module's names, such as a torchvision ResNet-18's, whose
/// fc.* is left out) the encoder's weights; else the encoder of the `pretrain` checkpoint into the backbone of each of
/// `targets` and, when a classifier has a hidden layer (model.classifier_hidden_dim), the
/// projector's first layer into it. `spec` describes the data the checkpoint was trained on (its
/// classes: a supervised checkpoint's head has one output per class).
void init_from_pretrained(const std::string& checkpoint, const std::vector<methods::Classifier>& targets,
                          const methods::DataSpec& spec);

/// The same into a semi-supervised method's student and EMA model.
void init_from_pretrained(const std::string& checkpoint, methods::SemiMethodImpl& method,
                          const methods::DataSpec& spec);

}  // namespace selfsup::train
