#include "selfsup/train/transfer.h"

#include "selfsup/nets/state_dict.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::train {
namespace {

using Named = torch::OrderedDict<std::string, torch::Tensor>;

/// Copies every tensor of `from` into the tensor of the same name in `to`; `part` and `prefix`
/// say where the source tensors sit, for the error.
void copy_named(const Named& from, Named to, const std::string& what, const std::string& part,
                const std::string& prefix = "") {
  for (const auto& kv : from) {
    auto* t = to.find(kv.key());
    TORCH_CHECK(t != nullptr && t->sizes() == kv.value().sizes(), what, ": its ", part, " ('", prefix, kv.key(),
                "' of shape ", kv.value().sizes(), ") does not match this model's",
                t == nullptr ? " (no such tensor)" : " (shape " + c10::str(t->sizes()) + ")");
    t->copy_(kv.value());
  }
}

}  // namespace

methods::Method load_pretrained(const std::string& checkpoint, const methods::DataSpec& spec) {
  auto state = peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  auto source = methods::make_method(
      cfg, spec, {methods::Kind::kSelfSupervised, methods::Kind::kSemiSupervised, methods::Kind::kSupervised});
  load_checkpoint(checkpoint, *source, nullptr);
  return source;
}

void copy_encoder(const nets::Backbone& from, const nets::Backbone& to, const std::string& what) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(from->name() == to->name(), what, ": its encoder is a ", from->name(), ", this model's backbone a ",
              to->name());
  const std::string part = "encoder (the pretrained model.* must match this run's)";
  copy_named(from->named_parameters(), to->named_parameters(), what, part);
  copy_named(from->named_buffers(), to->named_buffers(), what, part);
}

void copy_projector_first_layer(const nets::MLPHead& projector, const torch::nn::Sequential& hidden,
                                const std::string& what) {
  TORCH_CHECK(!projector.is_empty(), what,
              ": model.classifier_hidden_dim starts from the pretrained projector, and this method has none");
  torch::NoGradGuard no_grad;
  // The head's first Linear and its BatchNorm are the first two layers of both Sequentials.
  const auto source = projector->layers->children();
  const auto target = hidden->children();
  TORCH_CHECK(source.size() >= 2 && source[0]->as<torch::nn::LinearImpl>() != nullptr, what,
              ": the pretrained projector has no Linear - BatchNorm first layer");
  const auto width = target[0]->as<torch::nn::LinearImpl>()->weight.size(0);
  for (size_t i = 0; i < 2; ++i) {
    const auto& a = *source[i];
    const auto& b = *target[i];
    TORCH_CHECK(a.name() == b.name() || i == 1, what, ": the projector's first layer is a ", a.name(),
                ", the classifier's hidden layer a ", b.name());
    const std::string part = "projector's first layer, for model.classifier_hidden_dim " + std::to_string(width);
    const std::string prefix = "projector.layers." + std::to_string(i) + ".";
    copy_named(a.named_parameters(), b.named_parameters(), what, part, prefix);
    copy_named(a.named_buffers(), b.named_buffers(), what, part, prefix);
  }
}

void init_from_pretrained(const std::string& checkpoint, const std::vector<methods::Classifier>& targets,
                          const methods::DataSpec& spec) {
  const std::string what = "--init " + checkpoint;
  if (nets::is_state_dict_file(checkpoint)) {
    // Weights from elsewhere: an encoder's state dict under the PyTorch module's names.
    const auto state = nets::read_state_dict(checkpoint);
    for (const auto& target : targets) {
      TORCH_CHECK(!target->hidden, what, ": model.classifier_hidden_dim starts from a pretrain run's projector, and "
                  "a state dict file holds an encoder only");
      nets::load_state_dict(*target->backbone, state, what);
    }
    return;
  }
  const auto source = load_pretrained(checkpoint, spec);
  for (const auto& target : targets) {
    copy_encoder(source->encoder(), target->backbone, what);
    if (target->hidden) copy_projector_first_layer(source->projector(), target->hidden, what);
  }
}

void init_from_pretrained(const std::string& checkpoint, methods::SemiMethodImpl& method,
                          const methods::DataSpec& spec) {
  init_from_pretrained(checkpoint, {method.student, method.ema}, spec);
}

}  // namespace selfsup::train
