#pragma once
// ConSERT's data augmentations in the embedding layer (Yan et al. 2021), each a function of a
// generator so that a batch is a pure function of (seed, step):
//   token shuffle    the position ids of each sentence's tokens permuted (<s> and </s> kept in place)
//   token cutoff     whole token embeddings set to zero, a share `rate` of each sentence's tokens
//   feature cutoff   whole embedding dimensions set to zero across a sentence, a share `rate`
//   dropout          the encoder's own dropout, nothing here
// Padding is never chosen and never moved.
#include <torch/torch.h>

namespace selfsup::augment::text {

/// Position ids [B, L] int64: 0..L-1 where the row is <s> / </s> / padding, a random permutation
/// of 1..n-2 over the inner tokens of a row of n tokens (mask [B, L] bool, true on tokens, which
/// start at column 0).
torch::Tensor shuffled_positions(const torch::Tensor& mask, torch::Generator& gen);

/// Which tokens token cutoff removes: [B, L] bool, per row round(rate * n) of its n tokens
/// (at least one when rate > 0 and n > 1; never all of them).
torch::Tensor token_cutoff_mask(const torch::Tensor& mask, double rate, torch::Generator& gen);

/// Which features feature cutoff removes: [B, D] bool, per row round(rate * D) dimensions.
torch::Tensor feature_cutoff_mask(int64_t batch, int64_t dim, double rate, torch::Generator& gen,
                                  const torch::Device& device = torch::kCPU);

/// embeddings [B, L, D] with the chosen tokens ([B, L]) or features ([B, D]) set to zero.
torch::Tensor cut_tokens(const torch::Tensor& embeddings, const torch::Tensor& cut);
torch::Tensor cut_features(const torch::Tensor& embeddings, const torch::Tensor& cut);

}  // namespace selfsup::augment::text
