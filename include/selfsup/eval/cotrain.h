#pragma once
// Classic co-training (Blum & Mitchell 1998) over two feature views of the same images: one
// linear classifier per view, trained on the labeled images; each round, each view labels the
// unlabeled images it is most sure of, `per_class` for every class, and those join the labeled set
// that both views train on in the next round. It helps where the two views make different
// mistakes (two encoders, two halves of the features, pixels and an encoder), so that one view's
// confident labels teach the other something it did not know.
//
// The combined prediction multiplies the two views' class probabilities (Blum & Mitchell's
// h1 h2), that is adds their log-probabilities. Nothing here reads a label of an unlabeled image
// or any test data: scoring is the caller's.
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "selfsup/eval/evaluate.h"

namespace selfsup::eval {

struct CoTrainingOptions {
  /// Rounds of labeling after the first fit on the labeled images alone.
  TORCH_ARG(int64_t, rounds) = 20;
  /// Unlabeled images each view labels per class and round.
  TORCH_ARG(int64_t, per_class) = 5;
  /// Each view's classifier: the linear probe's fit, its L2 chosen on the validation rows.
  TORCH_ARG(LinearProbeOptions, probe) = LinearProbeOptions();
};

/// The two views' features of one set of images, row i of each the same image.
struct TwoViews {
  torch::Tensor view1, view2;  // [N, D1], [N, D2]
};

struct CoTrainingRound {
  int64_t round = 0;           // 0: the labeled images alone
  LinearHead head1, head2;     // each view's classifier fitted this round
  torch::Tensor added;         // int64 [A]: rows of the unlabeled images labeled after this fit
  torch::Tensor added_labels;  // int64 [A]: the labels they were given
  torch::Tensor added_by;      // int64 [A]: 1 or 2, the view that labeled each
  int64_t labeled = 0;         // rows the fit of this round was trained on
};

/// Log-probabilities of the combined classifier: log_softmax(h1(x1)) + log_softmax(h2(x2)), [N, C].
torch::Tensor co_training_scores(const LinearHead& head1, const LinearHead& head2, const TwoViews& x);

/// Runs rounds 0..options.rounds: round r fits both views on the labeled rows plus every row
/// labeled in rounds < r, then (except in the last round) each view labels, for every class c, the
/// `per_class` still-unlabeled rows of `pool` it predicts as c with the highest probability
/// (ranked by the log-odds log(p_c / (1 - p_c)), which do not round to a tie where p_c rounds to
/// 1); a row both views pick goes to the view with the higher log-odds. Stops early when the pool runs out. `on_round`
/// sees each round as it ends (for scoring and progress). Throws naming the argument on views of
/// different lengths, labels outside [0, num_classes), or empty labeled or validation rows.
std::vector<CoTrainingRound> co_training(const TwoViews& train, const torch::Tensor& labeled,
                                         const torch::Tensor& labels, const torch::Tensor& pool,
                                         const TwoViews& val, const torch::Tensor& val_labels, int64_t num_classes,
                                         const CoTrainingOptions& options = {},
                                         const std::function<void(const CoTrainingRound&)>& on_round = {});

}  // namespace selfsup::eval
