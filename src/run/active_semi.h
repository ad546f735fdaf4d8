#pragma once
// The third round model of `selfsup active`: a semi-supervised method (a `semi` config) trained
// each round on the labels revealed so far and the rest of the pool, from the pretrained encoder.
// It lives in run/ because it trains through the two-stream loader and the trainer, as `semi` does.
#include <memory>
#include <string>

#include "common.h"
#include "selfsup/active/models.h"

namespace selfsup::run::detail {

/// Trains the method of the semi config at `config_path` (with the pretrain run's model.* keys:
/// the encoder's architecture) for `steps` optimizer steps on the
/// `labeled` rows of `c.data.train` (with `labels`, the oracle's) and the `unlabeled` ones,
/// starting from the encoder of the pretrain checkpoint `init`, with draws from `seed`; the
/// returned model answers with the method's EMA classifier (as USB evaluates it).
std::unique_ptr<active::ScoredModel> semi_round_model(const std::string& config_path, int64_t steps,
                                                      const std::string& init, const Context& c,
                                                      const torch::Tensor& labeled, const torch::Tensor& labels,
                                                      const torch::Tensor& unlabeled, uint64_t seed);

}  // namespace selfsup::run::detail
