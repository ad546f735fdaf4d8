#pragma once
// FlexMatch's class-wise thresholds (Zhang et al. 2021, curriculum pseudo-labeling), as USB's
// FlexMatchThresholdingHook computes them. Every unlabeled sample remembers the last class it was
// predicted with confidence >= tau (selected[i], -1 while never):
//
//   sigma(c) = #{i : selected[i] = c}                               (learning status of class c)
//   beta(c)  = sigma(c) / max(max_c' sigma(c'), #{i : selected[i] = -1})   (warmup, the default)
//   beta(c)  = sigma(c) / max_c' sigma(c')                                  (warmup off)
//   T(c)     = tau M(beta(c)),   M(x) = x / (2 - x) (convex, default) or M(x) = x (linear)
//
// A pseudo-label y_i is accepted when its confidence >= T(y_i): pass `thresholds` to
// functional::hard_pseudo_labels, then the masked cross-entropy as in FixMatch. Order per batch
// (USB's): mask with the thresholds from before the batch, then update() records the batch's
// confident predictions and recomputes beta and T. The warmup counts the unused samples in the
// denominator, so thresholds start near 0 and rise as the unlabeled set gets pseudo-labeled
// instead of jumping to tau once a single class has a few confident samples. While no sample is
// used, or a denominator is 0, beta = 0 (USB keeps its zeros then). Linear is the paper's M(x) =
// x (USB's commented-out "linear" is tau (beta + 1) / 2, a different variant). selected, beta and
// thresholds are buffers: they travel with the module's device and its checkpoint, so a resumed
// run continues with the same thresholds. USB differs in one corner: when every unlabeled sample
// is selected for the same class it skips the update (its "all -1" test); here beta follows the
// formula.
#include <torch/torch.h>

#include <string>

namespace selfsup::losses {

enum class FlexMatchMapping { kConvex, kLinear };

struct FlexMatchThresholdsOptions {
  FlexMatchThresholdsOptions(int64_t num_unlabeled, int64_t num_classes)
      : num_unlabeled_(num_unlabeled), num_classes_(num_classes) {}
  /// Size of the unlabeled set (>= 1): the memory has one entry per sample index.
  TORCH_ARG(int64_t, num_unlabeled);
  /// Number of classes C (>= 2).
  TORCH_ARG(int64_t, num_classes);
  /// The fixed threshold tau in (0, 1]: the ceiling of T(c) and the bar to enter the memory.
  TORCH_ARG(double, threshold) = 0.95;
  /// Count unused samples in beta's denominator (USB's thresh_warmup, on by default).
  TORCH_ARG(bool, warmup) = true;
  /// The mapping M from beta to the fraction of tau.
  TORCH_ARG(FlexMatchMapping, mapping) = FlexMatchMapping::kConvex;
};

/// beta(c) and T(c), float64 [C] each.
struct FlexMatchStatus {
  torch::Tensor beta;
  torch::Tensor thresholds;
};

}  // namespace selfsup::losses

namespace selfsup::functional {

using losses::FlexMatchMapping;
using losses::FlexMatchStatus;
using losses::FlexMatchThresholdsOptions;

/// "convex" or "linear"; anything else throws naming `what` (the config key) and the value.
FlexMatchMapping parse_flexmatch_mapping(const std::string& name,
                                         const std::string& what = "mapping");

/// beta and T from the memory selected (int64 [num_unlabeled], entries in [-1, C)).
FlexMatchStatus flexmatch_thresholds(const torch::Tensor& selected,
                                     const FlexMatchThresholdsOptions& options);

}  // namespace selfsup::functional

namespace selfsup::losses {

/// The memory and thresholds of FlexMatch, as buffers of a module (checkpointed with it).
class FlexMatchThresholdsImpl : public torch::nn::Cloneable<FlexMatchThresholdsImpl> {
 public:
  explicit FlexMatchThresholdsImpl(FlexMatchThresholdsOptions options);
  /// Checks the options and (re)registers fresh buffers: nothing selected, all thresholds 0.
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// Records the batch's confident predictions: for every i with confidence[i] >= tau,
  /// selected[indices[i]] = labels[i]; then recomputes beta and thresholds. confidence [B]
  /// floating-point, labels int64 [B] in [0, C), indices int64 [B] in [0, num_unlabeled), all on
  /// one device (any; copied to the buffers'). Call it after masking the batch.
  void update(const torch::Tensor& confidence, const torch::Tensor& labels,
              const torch::Tensor& indices);

  FlexMatchThresholdsOptions options;
  torch::Tensor selected;    ///< buffer "selected": int64 [num_unlabeled], -1 = never confident
  torch::Tensor beta;        ///< buffer "beta": float [C], the learning effect of each class
  torch::Tensor thresholds;  ///< buffer "thresholds": float [C], T(c)
};
TORCH_MODULE(FlexMatchThresholds);

}  // namespace selfsup::losses
