#include "selfsup/nets/thin.h"

#include "selfsup/nets/batchnorm.h"
#include "selfsup/nets/convnet.h"
#include "selfsup/nets/resnet.h"

namespace selfsup::nets {
namespace {

namespace nn = torch::nn;

struct ConvLayer {
  nn::Conv2dImpl* conv;
  BatchNormImpl* bn;
};

std::vector<ConvLayer> conv_layers(const ConvNetImpl& net) {
  std::vector<ConvLayer> out;
  const auto layers = net.features->children();
  for (size_t i = 0; i < layers.size(); ++i) {
    if (auto* conv = layers[i]->as<nn::Conv2dImpl>()) {
      TORCH_CHECK(i + 1 < layers.size() && layers[i + 1]->as<BatchNormImpl>(), "thin: ConvNet layer ", i,
                  " is not followed by a batch norm");
      out.push_back({conv, layers[i + 1]->as<BatchNormImpl>()});
    }
  }
  return out;
}

torch::Tensor nonzero_filters(const torch::Tensor& w) {
  auto keep = (w.detach().reshape({w.size(0), -1}) != 0).any(1).nonzero().flatten();
  return keep.numel() > 0 ? keep : torch::zeros({1}, torch::kLong);
}

std::vector<int64_t> index_list(const torch::Tensor& idx) {
  const auto c = idx.to(torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// The constant each channel of `bn` outputs (after its ReLU) in evaluation when its input is 0.
torch::Tensor constant_output(const BatchNormImpl& bn) {
  auto y = bn.bias.detach() - bn.running_mean * bn.weight.detach() / (bn.running_var + bn.options.eps()).sqrt();
  return bn.options.relu() ? y.relu() : y;
}

void copy_bn(const BatchNormImpl& from, BatchNormImpl& to, const torch::Tensor& keep) {
  to.weight.set_data(from.weight.detach().index_select(0, keep).clone());
  to.bias.set_data(from.bias.detach().index_select(0, keep).clone());
  to.running_mean.copy_(from.running_mean.index_select(0, keep));
  to.running_var.copy_(from.running_var.index_select(0, keep));
  to.num_batches_tracked.copy_(from.num_batches_tracked);
}

torch::Tensor removed_mask(int64_t n, const torch::Tensor& keep) {
  auto mask = torch::ones({n}, torch::kBool);
  mask.index_fill_(0, keep, false);
  return mask;
}

// The response of the constant planes `k` (one value per input channel of `conv`, 0 for the kept
// ones) away from the border, subtracted from the running mean of the batch norm that follows.
void fold_into_running_mean(const nn::Conv2dImpl& conv, const torch::Tensor& k, BatchNormImpl& next_bn,
                            const torch::Tensor& keep_out) {
  const auto shift = (conv.weight.detach().sum({2, 3}) * k.unsqueeze(0)).sum(1);
  next_bn.running_mean.sub_(shift.index_select(0, keep_out));
}

void copy_matching(const torch::nn::Module& from, torch::nn::Module& to) {
  auto params = to.named_parameters();
  for (const auto& p : from.named_parameters()) {
    if (auto* t = params.find(p.key()); t != nullptr && t->sizes() == p.value().sizes()) {
      t->copy_(p.value().detach());
      t->set_requires_grad(p.value().requires_grad());
    }
  }
  auto buffers = to.named_buffers();
  for (const auto& b : from.named_buffers()) {
    if (auto* t = buffers.find(b.key()); t != nullptr && t->sizes() == b.value().sizes()) t->copy_(b.value());
  }
}

nn::Linear copy_of(const nn::Linear& head) {
  return nn::Linear(std::dynamic_pointer_cast<nn::LinearImpl>(head->clone()));
}

ThinResult thin_resnet(const ResNetImpl& net, const nn::Linear& head) {
  std::vector<BasicBlockImpl*> blocks;
  for (const auto& layer : net.layers) {
    for (const auto& b : layer->children()) blocks.push_back(b->as<BasicBlockImpl>());
  }
  ThinResult r;
  r.widths_key = "model.mid_widths";
  std::vector<torch::Tensor> keeps;
  for (auto* b : blocks) {
    keeps.push_back(nonzero_filters(b->conv1->weight));
    r.kept.push_back(index_list(keeps.back()));
    r.widths.push_back(keeps.back().numel());
  }
  auto thinned = ResNet(ResNetOptions(net.options).mid_widths(r.widths));
  thinned->to(net.conv1->weight.device());
  copy_matching(net, *thinned);
  size_t i = 0;
  for (const auto& layer : thinned->layers) {
    for (const auto& child : layer->children()) {
      auto* to = child->as<BasicBlockImpl>();
      const auto* from = blocks[i];
      const auto& keep = keeps[i];
      to->conv1->weight.set_data(from->conv1->weight.detach().index_select(0, keep).clone());
      copy_bn(*from->bn1, *to->bn1, keep);
      to->conv2->weight.set_data(from->conv2->weight.detach().index_select(1, keep).clone());
      const auto gone = removed_mask(from->conv1->weight.size(0), keep).to(torch::kFloat32);
      const auto all = torch::arange(from->conv2->weight.size(0), torch::kLong);
      fold_into_running_mean(*from->conv2, constant_output(*from->bn1) * gone, *to->bn2, all);
      ++i;
    }
  }
  thinned->train(net.is_training());
  r.backbone = thinned.ptr();
  if (head) r.head = copy_of(head);
  return r;
}

}  // namespace

ThinResult thin(const BackboneImpl& backbone, const torch::nn::Linear& head) {
  torch::NoGradGuard no_grad_guard;
  if (const auto* resnet = dynamic_cast<const ResNetImpl*>(&backbone)) return thin_resnet(*resnet, head);
  const auto* net = dynamic_cast<const ConvNetImpl*>(&backbone);
  TORCH_CHECK(net != nullptr, "thin: only the ConvNet and ResNet backbones can be thinned, got ", backbone.name());
  TORCH_CHECK(net->options.blocks_per_stage() == 1, "thin: a ConvNet with blocks_per_stage ",
              net->options.blocks_per_stage(), " cannot be thinned (its stage widths are shared); use 1");
  torch::NoGradGuard no_grad;
  const auto layers = conv_layers(*net);
  ThinResult r;
  r.widths_key = "model.channels";
  std::vector<torch::Tensor> keeps;
  for (const auto& l : layers) {
    keeps.push_back(nonzero_filters(l.conv->weight));
    r.kept.push_back(index_list(keeps.back()));
    r.widths.push_back(keeps.back().numel());
  }
  auto thinned = ConvNet(ConvNetOptions(net->options).channels(r.widths));
  const auto new_layers = conv_layers(*thinned);
  for (size_t i = 0; i < layers.size(); ++i) {
    auto w = layers[i].conv->weight.detach().index_select(0, keeps[i]);
    if (i > 0) w = w.index_select(1, keeps[i - 1]);
    new_layers[i].conv->weight.set_data(w.clone());
    copy_bn(*layers[i].bn, *new_layers[i].bn, keeps[i]);
    // Removed channels of the layer before: their constant plane's response (away from the border)
    // moves into this layer's running mean.
    if (i > 0) {
      const auto gone = removed_mask(layers[i - 1].conv->weight.size(0), keeps[i - 1]);
      const auto k = constant_output(*layers[i - 1].bn) * gone.to(torch::kFloat32);
      fold_into_running_mean(*layers[i].conv, k, *new_layers[i].bn, keeps[i]);
    }
  }
  thinned->to(net->features->parameters().front().device());
  thinned->train(net->is_training());
  for (const auto& p : net->named_parameters()) thinned->named_parameters()[p.key()].set_requires_grad(p.value().requires_grad());
  r.backbone = thinned.ptr();

  if (head) {
    const auto& last = layers.back();
    const auto keep = keeps.back();
    TORCH_CHECK(head->weight.size(1) == last.conv->weight.size(0), "thin: the head reads ", head->weight.size(1),
                " features, the ConvNet gives ", last.conv->weight.size(0));
    r.head = nn::Linear(nn::LinearOptions(keep.numel(), head->weight.size(0)).bias(true));
    r.head->weight.set_data(head->weight.detach().index_select(1, keep).clone());
    const auto gone = removed_mask(head->weight.size(1), keep).to(head->weight.dtype());
    const auto folded = head->weight.detach().mv(constant_output(*last.bn) * gone);
    r.head->bias.set_data((head->bias.defined() ? head->bias.detach() + folded : folded).clone());
    r.head->to(head->weight.device());
    r.head->train(head->is_training());
  }
  return r;
}

}  // namespace selfsup::nets
