// The fully connected backbone and the projector / predictor head share their layer builder.
#include "selfsup/nets/heads.h"
#include "selfsup/nets/mlp.h"
#include "selfsup/nets/batchnorm.h"

#include "common.h"

namespace selfsup::nets {

namespace nn = torch::nn;

namespace {

void append_hidden(nn::Sequential& seq, int64_t in, int64_t out, bool batch_norm, bool bias) {
  seq->push_back(nn::Linear(nn::LinearOptions(in, out).bias(bias)));
  if (batch_norm) seq->push_back(BatchNorm(out));
  seq->push_back(nn::ReLU(nn::ReLUOptions(/*inplace=*/true)));
}

double linear_macs(const nn::Module& module) {
  double macs = 0;
  module.apply([&](const nn::Module& m) {
    if (const auto* linear = m.as<nn::LinearImpl>()) {
      macs += static_cast<double>(linear->options.in_features()) * linear->options.out_features();
    }
  });
  return macs;
}

}  // namespace

MLPBackboneImpl::MLPBackboneImpl(MLPBackboneOptions options_) : BackboneBase(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_features() > 0, "MLPBackbone: in_features must be positive, got ", o.in_features());
  TORCH_CHECK(!o.hidden().empty(), "MLPBackbone: hidden must list at least one layer width");
  for (auto h : o.hidden()) {
    TORCH_CHECK(h > 0, "MLPBackbone: every hidden width must be positive, got hidden ",
                detail::format_list(o.hidden()));
  }
  layers = nn::Sequential();
  int64_t in = o.in_features();
  for (auto h : o.hidden()) {
    append_hidden(layers, in, h, o.batch_norm(), /*bias=*/!o.batch_norm());
    in = h;
  }
  register_module("layers", layers);
}

torch::Tensor MLPBackboneImpl::forward(torch::Tensor x) {
  TORCH_CHECK(x.defined() && x.dim() >= 2, "MLPBackbone: expected a batch [B, ...], got ",
              x.defined() ? x.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(x.is_floating_point(), "MLPBackbone: expected a floating-point input, got ", x.scalar_type());
  TORCH_CHECK(c10::multiply_integers(x.sizes().slice(1)) == options.in_features(), "MLPBackbone: expected ",
              options.in_features(), " values per sample (in_features), got input of shape ", x.sizes());
  return layers->forward(x.flatten(1));
}

double MLPBackboneImpl::forward_flops(int64_t, int64_t) const { return linear_macs(*layers); }

void MLPBackboneImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::MLPBackbone(in_features=" << options.in_features()
         << ", hidden=" << detail::format_list(options.hidden()) << ", batch_norm=" << std::boolalpha
         << options.batch_norm() << ")";
}

MLPHeadImpl::MLPHeadImpl(MLPHeadOptions options_) : options(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.in_dim() > 0, "MLPHead: in_dim must be positive, got ", o.in_dim());
  TORCH_CHECK(o.out_dim() > 0, "MLPHead: out_dim must be positive, got ", o.out_dim());
  TORCH_CHECK(o.num_layers() >= 1, "MLPHead: num_layers must be >= 1, got ", o.num_layers());
  TORCH_CHECK(o.num_layers() == 1 || o.hidden_dim() > 0, "MLPHead: hidden_dim must be positive, got ",
              o.hidden_dim());
  reset();
}

void MLPHeadImpl::reset() {
  const auto& o = options;
  layers = nn::Sequential();
  int64_t in = o.in_dim();
  for (int64_t i = 0; i + 1 < o.num_layers(); ++i) {
    append_hidden(layers, in, o.hidden_dim(), o.batch_norm(), o.bias());
    in = o.hidden_dim();
  }
  layers->push_back(nn::Linear(nn::LinearOptions(in, o.out_dim()).bias(o.bias())));
  if (o.last_batch_norm()) layers->push_back(BatchNorm(BatchNormOptions(o.out_dim()).affine(false)));
  register_module("layers", layers);
}

torch::Tensor MLPHeadImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.defined() && x.dim() == 2 && x.size(1) == options.in_dim(), "MLPHead: expected input [B, ",
              options.in_dim(), "], got ", x.defined() ? x.sizes() : torch::IntArrayRef{});
  return layers->forward(x);
}

double MLPHeadImpl::forward_flops() const { return linear_macs(*layers); }

void MLPHeadImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::nets::MLPHead(in_dim=" << options.in_dim() << ", hidden_dim=" << options.hidden_dim()
         << ", out_dim=" << options.out_dim() << ", num_layers=" << options.num_layers()
         << ", batch_norm=" << std::boolalpha << options.batch_norm()
         << ", last_batch_norm=" << options.last_batch_norm() << ", bias=" << options.bias() << ")";
}

}  // namespace selfsup::nets
