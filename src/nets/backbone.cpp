#include "selfsup/nets/backbone.h"
#include "selfsup/nets/batchnorm.h"


namespace selfsup::nets {
namespace {

// Pre-order walk, so a child's mode set later overrides the recursive train() of its parent.
void copy_modes(const torch::nn::Module& from, torch::nn::Module& to) {
  to.train(from.is_training());
  const auto fc = from.named_children();
  const auto tc = to.named_children();
  TORCH_CHECK(fc.size() == tc.size(), "copy_state: ", from.name(), " has ", fc.size(),
              " submodules but the destination has ", tc.size());
  for (size_t i = 0; i < fc.size(); ++i) {
    TORCH_CHECK(fc[i].key() == tc[i].key(), "copy_state: submodule '", fc[i].key(),
                "' does not match destination submodule '", tc[i].key(), "'");
    copy_modes(*fc[i].value(), *tc[i].value());
  }
}

void copy_tensors(const torch::OrderedDict<std::string, torch::Tensor>& from,
                  torch::OrderedDict<std::string, torch::Tensor>& to, const char* what) {
  TORCH_CHECK(from.size() == to.size(), "copy_state: the source has ", from.size(), " ", what,
              " but the destination has ", to.size());
  for (size_t i = 0; i < from.size(); ++i) {
    const auto& f = from[i];
    auto& t = to[i];
    TORCH_CHECK(f.key() == t.key(), "copy_state: ", what, " '", f.key(),
                "' does not match destination ", what, " '", t.key(), "'");
    TORCH_CHECK(f.value().sizes() == t.value().sizes(), "copy_state: ", what, " '", f.key(),
                "' has shape ", f.value().sizes(), " but the destination's has shape ",
                t.value().sizes());
    // set_data (as torch::nn::Cloneable does) rather than copy_: keeps the source's dtype and
    // device and gives the copy its own storage.
    t.value().set_data(f.value().detach().clone());
    if (f.value().requires_grad() != t.value().requires_grad()) {
      t.value().set_requires_grad(f.value().requires_grad());
    }
  }
}

}  // namespace

void copy_state(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto to_params = to.named_parameters();
  copy_tensors(from.named_parameters(), to_params, "parameter");
  auto to_buffers = to.named_buffers();
  copy_tensors(from.named_buffers(), to_buffers, "buffer");
  copy_modes(from, to);
}

Backbone clone_backbone(const Backbone& backbone) {
  TORCH_CHECK(backbone != nullptr, "clone_backbone: the backbone is null");
  auto copy = backbone->rebuild();
  copy_state(*backbone, *copy);
  return copy;
}

std::shared_ptr<torch::nn::Module> BackboneImpl::clone(const c10::optional<torch::Device>& device) const {
  auto copy = rebuild();
  copy_state(*this, *copy);
  if (device) copy->to(*device);
  return copy;
}

void BackboneImpl::clone_(torch::nn::Module& other, const c10::optional<torch::Device>& device) {
  if (&other == this) return;
  copy_state(other, *this);
  if (device) to(*device);
}

int64_t count_parameters(const torch::nn::Module& module, bool trainable_only) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

double forward_flops(const BackboneImpl& backbone, int64_t height, int64_t width) {
  TORCH_CHECK(height > 0 && width > 0, "forward_flops: image size must be positive, got ", height,
              "x", width);
  return backbone.forward_flops(height, width);
}

void init_kaiming(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  // apply() visits the module itself too, and unlike modules() works inside a constructor.
  module.apply([](torch::nn::Module& m) {
    if (auto* conv = m.as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m.as<BatchNormImpl>()) {
      if (bn->weight.defined()) bn->weight.fill_(1.0);
      if (bn->bias.defined()) bn->bias.zero_();
    }
  });
}

}  // namespace selfsup::nets
