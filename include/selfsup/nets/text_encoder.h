#pragma once
// A small Transformer encoder for sentences (BERT's shape at CPU size: 4 blocks of width 256): a
// token embedding and a learned position embedding, pre-norm blocks whose feed-forward part is
// the ViT's (nets/vit.h: FeedForward, its initialisation and names), attention that ignores
// padding, and dropout where BERT has it (embeddings, attention probabilities, each block's two
// outputs), which SimCSE uses as its augmentation. The sentence embedding is the mean of the
// token states (padding excluded) or the state of the first token <s> ("cls"), after the final
// LayerNorm.
#include <torch/nn.h>

#include <functional>
#include <string>

#include "selfsup/nets/vit.h"

namespace selfsup::nets {

struct TextEncoderOptions {
  explicit TextEncoderOptions(int64_t vocab_size) : vocab_size_(vocab_size) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, dim) = 256;
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(int64_t, heads) = 4;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  /// Longest sentence in tokens, <s> and </s> included (the position embedding's length).
  TORCH_ARG(int64_t, max_length) = 64;
  /// BERT's 0.1, in every place it has dropout.
  TORCH_ARG(double, dropout) = 0.1;
  /// "mean" or "cls".
  TORCH_ARG(std::string, pool) = "mean";
};

/// Self-attention over [B, L, dim] whose keys exclude padding (mask [B, L] bool, true on tokens),
/// with dropout on the attention probabilities in training. Parameter names as the ViT's.
class MaskedAttentionImpl : public torch::nn::Cloneable<MaskedAttentionImpl> {
 public:
  MaskedAttentionImpl(int64_t dim, int64_t heads, double dropout);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  int64_t dim, heads;
  double dropout;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(MaskedAttention);

/// x + drop(attn(norm1(x), mask)), then x + drop(mlp(norm2(x))).
class TextBlockImpl : public torch::nn::Cloneable<TextBlockImpl> {
 public:
  explicit TextBlockImpl(const TextEncoderOptions& options);
  void reset() override;
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);

  TextEncoderOptions options;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  MaskedAttention attn{nullptr};
  FeedForward mlp{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(TextBlock);

class TextEncoderImpl : public torch::nn::Cloneable<TextEncoderImpl> {
 public:
  explicit TextEncoderImpl(TextEncoderOptions options);
  void reset() override;

  /// A change to the embeddings [B, L, dim] (token + position) before their dropout: ConSERT's
  /// token and feature cutoffs (text/augment.h).
  using EmbeddingHook = std::function<torch::Tensor(const torch::Tensor&)>;

  /// Token states [B, L, dim] after the final LayerNorm, for ids [B, L] int64 and mask [B, L]
  /// bool (tokens a prefix of each row). position_ids [B, L] (default 0..L-1) lets ConSERT's
  /// shuffle move the tokens' positions.
  torch::Tensor forward_tokens(const torch::Tensor& ids, const torch::Tensor& mask,
                               const torch::Tensor& position_ids = {}, const EmbeddingHook& hook = {});
  /// The pooled sentence embedding [B, dim] of token states.
  torch::Tensor pool(const torch::Tensor& tokens, const torch::Tensor& mask) const;
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask) { return pool(forward_tokens(ids, mask), mask); }
  int64_t feature_dim() const { return options.dim(); }

  TextEncoderOptions options;
  torch::nn::Embedding tok_embed{nullptr};
  torch::Tensor pos_embed;  // [1, max_length, dim]
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(TextEncoder);

}  // namespace selfsup::nets
