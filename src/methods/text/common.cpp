#include "selfsup/core/runtime.h"
#include "selfsup/methods/text.h"

namespace selfsup::methods {

KeySet TextMethodImpl::encoder_keys() {
  const nets::TextEncoderOptions d(1);
  return KeySet()
      .add("model.dim", d.dim(), "width of the token states and of the sentence embedding")
      .add("model.depth", d.depth(), "Transformer blocks")
      .add("model.heads", d.heads(), "attention heads (must divide model.dim)")
      .add("model.max_length", d.max_length(), "tokens per sentence, <s> and </s> included; longer ones are cut")
      .add("model.dropout", d.dropout(), "dropout of the embeddings, attention probabilities and block outputs")
      .add("model.pool", d.pool(), "the sentence embedding: mean (of the token states) or cls (the <s> token's)");
}

TextMethodImpl::TextMethodImpl(const MethodConfig& cfg, const DataSpec& spec) : seed_(spec.seed) {
  TORCH_CHECK(spec.vocab_size >= 5, "a text method needs the tokenizer's vocabulary size, got ", spec.vocab_size);
  text_encoder = register_module(
      "text_encoder", nets::TextEncoder(nets::TextEncoderOptions(spec.vocab_size)
                                            .dim(cfg.get<int64_t>("model.dim"))
                                            .depth(cfg.get<int64_t>("model.depth"))
                                            .heads(cfg.get<int64_t>("model.heads"))
                                            .max_length(cfg.get<int64_t>("model.max_length"))
                                            .dropout(cfg.get<double>("model.dropout"))
                                            .pool(cfg.get<std::string>("model.pool"))));
  progress_ = register_buffer("progress", torch::tensor({int64_t{0}, int64_t{1}}, torch::kLong));
}

void TextMethodImpl::after_optimizer_step(int64_t step, int64_t total_steps) {
  progress_[0] = step;
  progress_[1] = std::max<int64_t>(total_steps, 1);
}

void TextMethodImpl::check_texts(const Batch& b, const char* method) const {
  TORCH_CHECK(static_cast<int64_t>(b.token_ids.size()) == num_texts() && b.token_masks.size() == b.token_ids.size(),
              method, " expects ", num_texts(), num_texts() == 1 ? " sentence list" : " sentence lists (sentence, "
              "positive, hard negative)", " per batch, got ", b.token_ids.size());
}

torch::Generator TextMethodImpl::step_generator(const char* stream) const {
  return make_generator(derive_seed(seed_, stream) + static_cast<uint64_t>(step()));
}

TextMethod make_text_method(const Config& cfg, const DataSpec& spec) {
  auto m = std::dynamic_pointer_cast<TextMethodImpl>(make_method(cfg, spec, {Kind::kTextEmbedding}));
  TORCH_CHECK(m, "method '", cfg.get<std::string>("method.name", ""), "' is not a sentence-embedding method");
  return m;
}

}  // namespace selfsup::methods
