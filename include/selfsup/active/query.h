#pragma once
// One query of the active learning loop, checked: whatever a strategy returns, the loop gets
// `batch` distinct rows of the pool or an error naming what was wrong.
#include "selfsup/active/strategy.h"

namespace selfsup::active {

/// `strategy`'s choice of `batch` rows of pool.unlabeled. Refuses a batch outside [1, pool size],
/// a missing model for a strategy that needs one, and a choice with a repeated row or a row
/// outside the pool.
torch::Tensor query(StrategyImpl& strategy, const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed);

}  // namespace selfsup::active
