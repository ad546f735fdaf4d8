#pragma once
// What the sentence-embedding methods share: the text encoder (nets/text_encoder.h) and its
// config keys, and per-step randomness. A batch carries token ids and masks (Batch::token_ids):
// one sentence list for the unsupervised methods (mlm, simcse, consert), three for supervised
// SimCSE (sentence, positive, hard negative). A method is a small file in src/methods/text/.
#include <torch/torch.h>

#include "selfsup/methods/keys.h"
#include "selfsup/methods/method.h"
#include "selfsup/nets/text_encoder.h"

namespace selfsup::methods {

class TextMethodImpl : public MethodImpl {
 public:
  /// model.dim, model.depth, model.heads, model.max_length, model.dropout, model.pool
  /// (nets::TextEncoderOptions).
  static KeySet encoder_keys();
  TextMethodImpl(const MethodConfig& cfg, const DataSpec& spec);
  /// Sentence lists a batch must carry: 1, or 3 for sentence pairs with hard negatives.
  virtual int64_t num_texts() const { return 1; }
  int64_t num_views() const override { return 0; }
  /// Not an image encoder: the text commands evaluate `text_encoder`.
  nets::Backbone encoder() const override { return nullptr; }
  void after_optimizer_step(int64_t step, int64_t total_steps) override;
  /// Sentence embeddings [B, dim] of ids and masks (eval mode is the caller's).
  torch::Tensor embed(const torch::Tensor& ids, const torch::Tensor& mask) { return text_encoder->forward(ids, mask); }

  nets::TextEncoder text_encoder{nullptr};

 protected:
  /// The batch's token lists, checked against num_texts().
  void check_texts(const Batch& b, const char* method) const;
  int64_t step() const { return progress_[0].item<int64_t>(); }
  /// A CPU generator for this step's draws (a pure function of the seed, the stream and the step).
  torch::Generator step_generator(const char* stream) const;

 private:
  uint64_t seed_ = 0;
  torch::Tensor progress_;  // {step, total_steps}
};
using TextMethod = std::shared_ptr<TextMethodImpl>;

/// Builds the sentence-embedding method named by method.name.
TextMethod make_text_method(const Config& cfg, const DataSpec& spec);

}  // namespace selfsup::methods
