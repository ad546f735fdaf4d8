#include "selfsup/losses/flexmatch.h"

#include <cmath>

#include "selfsup/losses/common.h"

namespace selfsup {
namespace {

constexpr const char* kFlexMatch = "flexmatch";

void check_flexmatch_options(const losses::FlexMatchThresholdsOptions& o) {
  TORCH_CHECK(o.num_unlabeled() >= 1, kFlexMatch, ": num_unlabeled must be >= 1, got ",
              o.num_unlabeled());
  TORCH_CHECK(o.num_classes() >= 2, kFlexMatch, ": num_classes must be >= 2, got ", o.num_classes());
  TORCH_CHECK(std::isfinite(o.threshold()) && o.threshold() > 0 && o.threshold() <= 1, kFlexMatch,
              ": threshold must be in (0, 1], got ", o.threshold());
}

}  // namespace

namespace functional {

FlexMatchMapping parse_flexmatch_mapping(const std::string& name, const std::string& what) {
  if (name == "convex") return FlexMatchMapping::kConvex;
  if (name == "linear") return FlexMatchMapping::kLinear;
  TORCH_CHECK(false, what, " must be 'convex' or 'linear', got '", name, "'");
}

FlexMatchStatus flexmatch_thresholds(const torch::Tensor& selected,
                                     const FlexMatchThresholdsOptions& options) {
  check_flexmatch_options(options);
  const int64_t c = options.num_classes();
  TORCH_CHECK(selected.defined() && selected.dim() == 1 &&
                  selected.size(0) == options.num_unlabeled(),
              kFlexMatch, ": selected must have shape [", options.num_unlabeled(), "], got ",
              selected.defined() ? selected.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(selected.scalar_type() == torch::kLong, kFlexMatch,
              ": selected must be int64, got dtype ", selected.scalar_type());
  TORCH_CHECK(selected.min().item<int64_t>() >= -1 && selected.max().item<int64_t>() < c, kFlexMatch,
              ": selected entries must be in [-1, ", c, "), got [", selected.min().item<int64_t>(),
              ", ", selected.max().item<int64_t>(), "]");
  torch::NoGradGuard no_grad;
  // Bin 0 counts the unused samples (-1), bin 1 + c the samples selected as class c.
  const torch::Tensor counts = torch::bincount(selected + 1, {}, c + 1).to(torch::kFloat64);
  const torch::Tensor sigma = counts.narrow(0, 1, c);
  torch::Tensor denominator = sigma.max();
  if (options.warmup()) denominator = torch::maximum(denominator, counts[0]);
  // A zero denominator means sigma = 0 everywhere: beta = 0 / 1 = 0.
  const torch::Tensor beta =
      sigma / torch::where(denominator > 0, denominator, torch::ones_like(denominator));
  const torch::Tensor mapped =
      options.mapping() == FlexMatchMapping::kConvex ? beta / (2.0 - beta) : beta;
  return {beta, mapped * options.threshold()};
}

}  // namespace functional

namespace losses {

FlexMatchThresholdsImpl::FlexMatchThresholdsImpl(FlexMatchThresholdsOptions options_)
    : options(options_) {
  reset();
}

void FlexMatchThresholdsImpl::reset() {
  check_flexmatch_options(options);
  selected = register_buffer("selected", torch::full({options.num_unlabeled()}, -1, torch::kLong));
  beta = register_buffer("beta", torch::zeros({options.num_classes()}, torch::kFloat32));
  thresholds =
      register_buffer("thresholds", torch::zeros({options.num_classes()}, torch::kFloat32));
}

void FlexMatchThresholdsImpl::pretty_print(std::ostream& stream) const {
  stream << "selfsup::losses::FlexMatchThresholds(num_unlabeled=" << options.num_unlabeled()
         << ", num_classes=" << options.num_classes() << ", threshold=" << options.threshold()
         << ", warmup=" << (options.warmup() ? "true" : "false") << ", mapping="
         << (options.mapping() == FlexMatchMapping::kConvex ? "convex" : "linear") << ")";
}

void FlexMatchThresholdsImpl::update(const torch::Tensor& confidence, const torch::Tensor& labels,
                                     const torch::Tensor& indices) {
  constexpr const char* kFn = "FlexMatchThresholds::update";
  namespace D = detail;
  TORCH_CHECK(confidence.defined() && confidence.dim() == 1, kFn,
              ": confidence must be a 1-D tensor [B], got ",
              confidence.defined() ? confidence.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(confidence.is_floating_point(), kFn, ": confidence must be floating-point, got dtype ",
              confidence.scalar_type());
  const int64_t b = confidence.size(0);
  D::check_per_sample(labels, b, confidence.device(), kFn, "labels");
  D::check_per_sample(indices, b, confidence.device(), kFn, "indices");
  TORCH_CHECK(labels.scalar_type() == torch::kLong && indices.scalar_type() == torch::kLong, kFn,
              ": labels and indices must be int64, got dtypes ", labels.scalar_type(), " and ",
              indices.scalar_type());
  if (b > 0) {
    TORCH_CHECK(labels.min().item<int64_t>() >= 0 &&
                    labels.max().item<int64_t>() < options.num_classes(),
                kFn, ": labels must be in [0, ", options.num_classes(), "), got [",
                labels.min().item<int64_t>(), ", ", labels.max().item<int64_t>(), "]");
    TORCH_CHECK(indices.min().item<int64_t>() >= 0 &&
                    indices.max().item<int64_t>() < options.num_unlabeled(),
                kFn, ": indices must be in [0, ", options.num_unlabeled(), "), got [",
                indices.min().item<int64_t>(), ", ", indices.max().item<int64_t>(), "]");
  }
  torch::NoGradGuard no_grad;
  // Entering the memory takes the fixed tau, not the class threshold (USB's `select`). If an
  // index appears twice in a batch, which write wins is unspecified (as in USB).
  const torch::Tensor confident = confidence.detach() >= options.threshold();
  const torch::Device device = selected.device();
  selected.index_put_({indices.masked_select(confident).to(device)},
                      labels.masked_select(confident).to(device));
  const FlexMatchStatus status = functional::flexmatch_thresholds(selected, options);
  beta.copy_(status.beta);
  thresholds.copy_(status.thresholds);
}

}  // namespace losses
}  // namespace selfsup
