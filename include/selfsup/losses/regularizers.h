#pragma once
// Weight regularizers: L1, L2 and group lasso, and the thresholding that sets small groups to
// exactly zero.
//
//   L1(W)          = strength * sum_i |w_i|
//   L2(W)          = strength * sum_i w_i^2          (a loss term, apart from the optimizer's
//                                                     weight decay)
//   group_lasso(W) = strength * sum_g ||w_g||_2      (Yuan & Lin 2006; Wen et al. 2016)
//
// Group lasso takes the unsquared L2 norm of each group: its gradient w_g / ||w_g|| keeps a
// constant pull toward zero however small the group gets, which is what sets whole groups to
// zero (a sum of squared norms is plain L2 and only shrinks them). At a group whose norm is zero
// the subgradient 0 is used. No sqrt(group size) factor is applied (as Distiller).
//
// Groups of a weight [out, in, kh, kw] (a convolution) or [out, in] (a linear layer):
//   kernels   one group per 2-D kernel (o, i): [out, in] norms; needs >= 3 dimensions
//   channels  one group per input channel i over every filter: [in] norms
//   filters   one group per output filter o: [out] norms
//   rows      the weight seen as the matrix [out, in * kh * kw]: one group per row, [out] norms
//             (for a convolution the same groups as filters)
//   cols      one group per column of that matrix, [in, kh, kw] norms (for a convolution the
//             shape fibres of Wen et al.; for a linear layer the input features)
//   layer     the whole tensor: one norm
#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::losses {

enum class Group { Kernels, Channels, Filters, Rows, Cols, Layer };

/// "kernels", "channels", "filters", "rows", "cols", "layer".
const char* group_name(Group group);
/// The inverse of group_name; an unknown name is an error listing the known ones.
Group group_from_name(const std::string& name);
/// Every grouping, in the order above.
const std::vector<Group>& all_groups();

struct GroupLassoOptions {
  /// How the weight is split into groups.
  TORCH_ARG(Group, group) = Group::Filters;
  /// lambda_g (>= 0): the penalty is strength * sum of group norms.
  TORCH_ARG(double, strength) = 1.0;
};

struct L1Options {
  /// lambda (>= 0): strength * sum |w|.
  TORCH_ARG(double, strength) = 1.0;
};

struct L2Options {
  /// lambda (>= 0): strength * sum w^2.
  TORCH_ARG(double, strength) = 1.0;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::Group;
using losses::GroupLassoOptions;
using losses::L1Options;
using losses::L2Options;

/// The L2 norm of every group of `weight` (floating point, >= 2 dimensions), shaped as the group
/// index: [out] for filters and rows, [in] for channels, [out, in] for kernels, [in, kh, kw] for
/// cols, [] for layer. Differentiable; bf16/fp16 weights are computed in float32.
torch::Tensor group_norms(const torch::Tensor& weight, Group group);

/// strength * sum_g ||w_g||_2, a differentiable scalar.
torch::Tensor group_lasso(const torch::Tensor& weight, const GroupLassoOptions& options = {});

/// strength * sum |w|.
torch::Tensor l1_regularizer(const torch::Tensor& weight, const L1Options& options = {});

/// strength * sum w^2.
torch::Tensor l2_regularizer(const torch::Tensor& weight, const L2Options& options = {});

/// True for every element of `weight` that belongs to a group whose norm is strictly below
/// `threshold` (>= 0); same shape as weight.
torch::Tensor groups_below(const torch::Tensor& weight, Group group, double threshold);

/// Sets to zero, in place and outside autograd, every group of `weight` whose norm is strictly
/// below `threshold` (>= 0); returns how many groups are zero afterwards.
int64_t threshold_groups_(torch::Tensor weight, Group group, double threshold);

/// One group per output filter o spanning several tensors: row o of each (a convolution's weight
/// [out, ...] with the weight and bias [out] of the batch norm after it, so that a group at zero
/// gives a channel that is exactly zero after the batch norm). Their joint L2 norms, [out].
torch::Tensor joint_filter_norms(const std::vector<torch::Tensor>& tensors);

/// Sets row o of every tensor to zero, in place and outside autograd, where the joint norm of
/// filter o is strictly below `threshold` (>= 0); returns how many filters are zero afterwards.
int64_t threshold_joint_filters_(const std::vector<torch::Tensor>& tensors, double threshold);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// Module form of functional::group_lasso.
class GroupLassoImpl : public torch::nn::Cloneable<GroupLassoImpl> {
 public:
  explicit GroupLassoImpl(GroupLassoOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& weight);

  GroupLassoOptions options;
};
TORCH_MODULE(GroupLasso);

/// Module form of functional::l1_regularizer.
class L1RegularizerImpl : public torch::nn::Cloneable<L1RegularizerImpl> {
 public:
  explicit L1RegularizerImpl(L1Options options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& weight);

  L1Options options;
};
TORCH_MODULE(L1Regularizer);

/// Module form of functional::l2_regularizer.
class L2RegularizerImpl : public torch::nn::Cloneable<L2RegularizerImpl> {
 public:
  explicit L2RegularizerImpl(L2Options options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& weight);

  L2Options options;
};
TORCH_MODULE(L2Regularizer);

}  // namespace selfsup::losses
