#pragma once
// The batch-hard triplet loss with a soft margin (Hermans, Beyer & Leibe 2017), the
// self-supervised term of S4L-Exemplar (Zhai et al. 2019): rows of one group are augmented copies
// of one image. For each anchor i, its hardest positive is the farthest row of its own group and
// its hardest negative the nearest row of another group, in Euclidean distance:
//
//   L = mean_i softplus( max_{j != i, g_j = g_i} |e_i - e_j|  -  min_{k: g_k != g_i} |e_i - e_k| )
//
// softplus(x) = log(1 + e^x). The distance is sqrt(max(|e_i - e_j|^2, 1e-12)), so two equal rows
// give a finite gradient.
#include <torch/torch.h>

namespace selfsup::functional {

/// embeddings [N, D] (N >= 2), groups int64 [N]: every group needs at least two rows and there
/// must be at least two groups.
torch::Tensor batch_hard_triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& groups);

}  // namespace selfsup::functional
