#include "selfsup/losses/regularizers.h"

#include <c10/util/StringUtil.h>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

namespace D = losses::detail;
using losses::Group;

void check_weight(const torch::Tensor& w, Group group, const char* fn) {
  TORCH_CHECK(w.defined(), fn, ": weight must be a defined tensor, got an undefined one");
  TORCH_CHECK(w.is_floating_point(), fn, ": weight must be floating-point, got dtype ", w.scalar_type());
  TORCH_CHECK(w.dim() >= 2, fn, ": weight must have at least 2 dimensions ([out, in] or [out, in, kh, kw]), got shape ",
              w.sizes());
  TORCH_CHECK(group != Group::Kernels || w.dim() >= 3, fn,
              ": group kernels needs a weight of at least 3 dimensions ([out, in, kh, kw]), got shape ", w.sizes());
  TORCH_CHECK(w.numel() > 0, fn, ": weight is empty (shape ", w.sizes(), ")");
}

torch::Tensor norm_over(const torch::Tensor& x, int64_t dim) {
  const int64_t dims[] = {dim};
  return at::linalg_vector_norm(x, 2, at::IntArrayRef(dims), /*keepdim=*/false, c10::nullopt);
}

// The group mask `below` (shaped as group_norms) broadcast to the weight's shape.
torch::Tensor expand_to_weight(const torch::Tensor& below, const torch::Tensor& w, Group group) {
  std::vector<int64_t> shape(w.dim(), 1);
  switch (group) {
    case Group::Filters:
    case Group::Rows:
      shape[0] = w.size(0);
      break;
    case Group::Channels:
      shape[1] = w.size(1);
      break;
    case Group::Kernels:
      shape[0] = w.size(0);
      shape[1] = w.size(1);
      break;
    case Group::Cols:
      for (int64_t d = 1; d < w.dim(); ++d) shape[d] = w.size(d);
      break;
    case Group::Layer:
      break;
  }
  return below.reshape(shape).expand(w.sizes());
}

}  // namespace

namespace losses {

const std::vector<Group>& all_groups() {
  static const std::vector<Group> groups{Group::Kernels, Group::Channels, Group::Filters,
                                         Group::Rows,    Group::Cols,     Group::Layer};
  return groups;
}

const char* group_name(Group group) {
  switch (group) {
    case Group::Kernels: return "kernels";
    case Group::Channels: return "channels";
    case Group::Filters: return "filters";
    case Group::Rows: return "rows";
    case Group::Cols: return "cols";
    case Group::Layer: return "layer";
  }
  return "?";
}

Group group_from_name(const std::string& name) {
  std::vector<std::string> known;
  for (Group g : all_groups()) {
    if (name == group_name(g)) return g;
    known.emplace_back(group_name(g));
  }
  TORCH_CHECK(false, "group_lasso: unknown group '", name, "' (known: ", c10::Join(", ", known), ")");
}

}  // namespace losses

namespace functional {

torch::Tensor group_norms(const torch::Tensor& weight, Group group) {
  check_weight(weight, group, "group_norms");
  const torch::Tensor w = D::to_compute_dtype(weight);
  const int64_t out = w.size(0), in = w.size(1);
  switch (group) {
    case Group::Filters:
    case Group::Rows:
      return norm_over(w.reshape({out, -1}), 1);
    case Group::Channels:
      return norm_over(w.transpose(0, 1).reshape({in, -1}), 1);
    case Group::Kernels:
      return norm_over(w.reshape({out, in, -1}), 2);
    case Group::Cols:
      return norm_over(w.reshape({out, -1}), 0).reshape(w.sizes().slice(1));
    case Group::Layer:
      return at::linalg_vector_norm(w, 2, c10::nullopt, false, c10::nullopt);
  }
  TORCH_CHECK(false, "group_norms: unknown group");
}

torch::Tensor group_lasso(const torch::Tensor& weight, const GroupLassoOptions& options) {
  D::check_non_negative(options.strength(), "group_lasso", "strength");
  check_weight(weight, options.group(), "group_lasso");
  return options.strength() * group_norms(weight, options.group()).sum();
}

torch::Tensor l1_regularizer(const torch::Tensor& weight, const L1Options& options) {
  D::check_non_negative(options.strength(), "l1_regularizer", "strength");
  TORCH_CHECK(weight.defined() && weight.is_floating_point(),
              "l1_regularizer: weight must be a defined floating-point tensor");
  return options.strength() * D::to_compute_dtype(weight).abs().sum();
}

torch::Tensor l2_regularizer(const torch::Tensor& weight, const L2Options& options) {
  D::check_non_negative(options.strength(), "l2_regularizer", "strength");
  TORCH_CHECK(weight.defined() && weight.is_floating_point(),
              "l2_regularizer: weight must be a defined floating-point tensor");
  return options.strength() * D::to_compute_dtype(weight).pow(2).sum();
}

torch::Tensor groups_below(const torch::Tensor& weight, Group group, double threshold) {
  D::check_non_negative(threshold, "groups_below", "threshold");
  check_weight(weight, group, "groups_below");
  torch::NoGradGuard no_grad;
  return expand_to_weight(group_norms(weight, group) < threshold, weight, group);
}

int64_t threshold_groups_(torch::Tensor weight, Group group, double threshold) {
  D::check_non_negative(threshold, "threshold_groups_", "threshold");
  check_weight(weight, group, "threshold_groups_");
  torch::NoGradGuard no_grad;
  weight.masked_fill_(groups_below(weight, group, threshold), 0);
  return (group_norms(weight, group) == 0).sum().item<int64_t>();
}

torch::Tensor joint_filter_norms(const std::vector<torch::Tensor>& tensors) {
  TORCH_CHECK(!tensors.empty(), "joint_filter_norms: needs at least one tensor");
  const auto& first = tensors.front();
  TORCH_CHECK(first.defined() && first.dim() >= 1 && first.is_floating_point(),
              "joint_filter_norms: tensor 0 must be a floating-point tensor [out, ...]");
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    TORCH_CHECK(t.defined() && t.dim() >= 1 && t.size(0) == first.size(0) && t.is_floating_point(),
                "joint_filter_norms: tensor ", i, " must be floating-point with ", first.size(0),
                " rows like tensor 0, got shape ", t.defined() ? c10::str(t.sizes()) : std::string("undefined"));
    rows.push_back(D::to_compute_dtype(t).reshape({first.size(0), -1}));
  }
  return norm_over(torch::cat(rows, 1), 1);
}

int64_t threshold_joint_filters_(const std::vector<torch::Tensor>& tensors, double threshold) {
  D::check_non_negative(threshold, "threshold_joint_filters_", "threshold");
  torch::NoGradGuard no_grad;
  const auto below = joint_filter_norms(tensors) < threshold;
  for (auto t : tensors) {
    std::vector<int64_t> shape(t.dim(), 1);
    shape[0] = t.size(0);
    t.masked_fill_(below.reshape(shape).expand(t.sizes()), 0);
  }
  return (joint_filter_norms(tensors) == 0).sum().item<int64_t>();
}

}  // namespace functional

namespace losses {

GroupLassoImpl::GroupLassoImpl(GroupLassoOptions options_) : options(options_) { reset(); }
void GroupLassoImpl::reset() { D::check_non_negative(options.strength(), "GroupLasso", "strength"); }
void GroupLassoImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::GroupLasso(group=" << group_name(options.group()) << ", strength=" << options.strength()
         << ")";
}
torch::Tensor GroupLassoImpl::forward(const torch::Tensor& weight) { return functional::group_lasso(weight, options); }

L1RegularizerImpl::L1RegularizerImpl(L1Options options_) : options(options_) { reset(); }
void L1RegularizerImpl::reset() { D::check_non_negative(options.strength(), "L1Regularizer", "strength"); }
void L1RegularizerImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::L1Regularizer(strength=" << options.strength() << ")";
}
torch::Tensor L1RegularizerImpl::forward(const torch::Tensor& weight) {
  return functional::l1_regularizer(weight, options);
}

L2RegularizerImpl::L2RegularizerImpl(L2Options options_) : options(options_) { reset(); }
void L2RegularizerImpl::reset() { D::check_non_negative(options.strength(), "L2Regularizer", "strength"); }
void L2RegularizerImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::L2Regularizer(strength=" << options.strength() << ")";
}
torch::Tensor L2RegularizerImpl::forward(const torch::Tensor& weight) {
  return functional::l2_regularizer(weight, options);
}

}  // namespace losses
}  // namespace selfsup
