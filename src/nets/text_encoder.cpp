#include "selfsup/nets/text_encoder.h"

#include <cmath>
#include <limits>

namespace selfsup::nets {
namespace nn = torch::nn;
namespace {

nn::LayerNorm text_layer_norm(int64_t dim) { return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)); }

void check_ids(const torch::Tensor& ids, const torch::Tensor& mask, int64_t max_length, int64_t vocab) {
  TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == torch::kLong, "TextEncoder: ids must be int64 [B, L], got ",
              ids.scalar_type(), " ", ids.sizes());
  TORCH_CHECK(mask.sizes() == ids.sizes() && mask.scalar_type() == torch::kBool,
              "TextEncoder: mask must be bool of the ids' shape ", ids.sizes(), ", got ", mask.scalar_type(), " ",
              mask.sizes());
  TORCH_CHECK(ids.size(1) <= max_length, "TextEncoder: sentences of ", ids.size(1), " tokens, max_length is ",
              max_length);
  TORCH_CHECK(ids.numel() == 0 || (ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < vocab),
              "TextEncoder: token ids must be in [0, ", vocab, ")");
}

}  // namespace

MaskedAttentionImpl::MaskedAttentionImpl(int64_t dim_, int64_t heads_, double dropout_)
    : dim(dim_), heads(heads_), dropout(dropout_) {
  TORCH_CHECK(dim > 0 && heads > 0 && dim % heads == 0, "MaskedAttention: dim ", dim, " must be a positive multiple of "
              "heads ", heads);
  TORCH_CHECK(std::isfinite(dropout) && dropout >= 0 && dropout < 1, "MaskedAttention: dropout must be in [0, 1), got ",
              dropout);
  reset();
}

void MaskedAttentionImpl::reset() {
  qkv = register_module("qkv", nn::Linear(dim, 3 * dim));
  proj = register_module("proj", nn::Linear(dim, dim));
}

torch::Tensor MaskedAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0), l = x.size(1), hd = dim / heads;
  const auto parts = qkv->forward(x).view({b, l, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // [3, B, h, L, hd]
  const auto q = parts[0], k = parts[1], v = parts[2];
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));  // [B, h, L, L]
  scores = scores.masked_fill(mask.logical_not().view({b, 1, 1, l}), -std::numeric_limits<float>::infinity());
  auto p = torch::softmax(scores, -1);
  p = torch::dropout(p, dropout, is_training());
  return proj->forward(torch::matmul(p, v).transpose(1, 2).reshape({b, l, dim}));
}

TextBlockImpl::TextBlockImpl(const TextEncoderOptions& options_) : options(options_) { reset(); }

void TextBlockImpl::reset() {
  const int64_t d = options.dim();
  norm1 = register_module("norm1", text_layer_norm(d));
  attn = register_module("attn", MaskedAttention(d, options.heads(), options.dropout()));
  norm2 = register_module("norm2", text_layer_norm(d));
  mlp = register_module("mlp", FeedForward(d, std::max<int64_t>(1, std::lround(d * options.mlp_ratio()))));
  drop = register_module("drop", nn::Dropout(options.dropout()));
}

torch::Tensor TextBlockImpl::forward(torch::Tensor x, const torch::Tensor& mask) {
  x = x + drop->forward(attn->forward(norm1->forward(x), mask));
  return x + drop->forward(mlp->forward(norm2->forward(x)));
}

TextEncoderImpl::TextEncoderImpl(TextEncoderOptions options_) : options(std::move(options_)) {
  const auto& o = options;
  TORCH_CHECK(o.vocab_size() >= 5, "TextEncoder: vocab_size must be >= 5 (four special pieces and a word), got ",
              o.vocab_size());
  TORCH_CHECK(o.dim() > 0 && o.heads() > 0 && o.dim() % o.heads() == 0, "TextEncoder: dim ", o.dim(),
              " must be a positive multiple of heads ", o.heads());
  TORCH_CHECK(o.depth() >= 1, "TextEncoder: depth must be >= 1, got ", o.depth());
  TORCH_CHECK(o.max_length() >= 2, "TextEncoder: max_length must be >= 2, got ", o.max_length());
  TORCH_CHECK(o.pool() == "mean" || o.pool() == "cls", "TextEncoder: pool must be mean or cls, got '", o.pool(), "'");
  TORCH_CHECK(std::isfinite(o.dropout()) && o.dropout() >= 0 && o.dropout() < 1,
              "TextEncoder: dropout must be in [0, 1), got ", o.dropout());
  reset();
}

void TextEncoderImpl::reset() {
  const auto& o = options;
  tok_embed = register_module("tok_embed", nn::Embedding(o.vocab_size(), o.dim()));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, o.max_length(), o.dim()}));
  blocks = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) blocks->push_back(TextBlock(o));
  norm = register_module("norm", text_layer_norm(o.dim()));
  drop = register_module("drop", nn::Dropout(o.dropout()));
  init_transformer(*this);
  torch::NoGradGuard no_grad;
  tok_embed->weight.normal_(0.0, 0.02);
  pos_embed.normal_(0.0, 0.02);
}

torch::Tensor TextEncoderImpl::forward_tokens(const torch::Tensor& ids, const torch::Tensor& mask,
                                              const torch::Tensor& position_ids, const EmbeddingHook& hook) {
  check_ids(ids, mask, options.max_length(), options.vocab_size());
  const int64_t l = ids.size(1);
  torch::Tensor pos = pos_embed.slice(1, 0, l);
  if (position_ids.defined()) {
    TORCH_CHECK(position_ids.sizes() == ids.sizes(), "TextEncoder: position_ids must have the ids' shape ", ids.sizes(),
                ", got ", position_ids.sizes());
    pos = pos_embed[0].index_select(0, position_ids.flatten()).view({ids.size(0), l, options.dim()});
  }
  auto x = tok_embed->forward(ids) + pos;
  if (hook) x = hook(x);
  x = drop->forward(x);
  for (const auto& block : *blocks) x = block->as<TextBlock>()->forward(x, mask);
  return norm->forward(x);
}

torch::Tensor TextEncoderImpl::pool(const torch::Tensor& tokens, const torch::Tensor& mask) const {
  if (options.pool() == "cls") return tokens.select(1, 0);
  const auto m = mask.unsqueeze(2).to(tokens.dtype());
  return (tokens * m).sum(1) / m.sum(1).clamp_min(1);
}

}  // namespace selfsup::nets
