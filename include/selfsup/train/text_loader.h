#pragma once
// Batches of tokenized sentences for the text methods: the corpus is tokenized once; the batch of
// global step s is rows [p b, (p + 1) b) of epoch e's seeded permutation (s = e * steps_per_epoch
// + p), each list (sentences, or sentence / positive / hard negative) padded to its batch's
// longest row. A pure function of (seed, step), as the image loaders: a resumed run sees the
// batches an uninterrupted one would. Data parallelism keeps this rank's rows of the global batch.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "selfsup/train/loader.h"

namespace selfsup::train {

class TextLoader : public BatchSource {
 public:
  /// `texts`: one or three lists of one length, each sentence already tokenized as
  /// <s> ... </s> (Tokenizer::encode plus the two; at most max_length ids). options.batch_size
  /// must not exceed the number of rows (the last partial batch of an epoch is dropped).
  TextLoader(std::vector<std::vector<std::vector<int64_t>>> texts, LoaderOptions options, torch::Device device);
  int64_t steps_per_epoch() const override;
  int64_t dataset_size() const override { return rows_; }
  methods::Batch get(int64_t step) override;

 private:
  std::vector<std::vector<std::vector<int64_t>>> texts_;
  LoaderOptions options_;
  torch::Device device_;
  int64_t rows_ = 0;
};

}  // namespace selfsup::train
