// Masked-language-model pretraining (BERT, Devlin et al. 2019), the warm start SimCSE assumes: 15%
// of each sentence's inner tokens (not <s>, </s> or padding) are chosen; of those 80% become
// [MASK], 10% a random ordinary token, 10% stay; the encoder's token states go through BERT's
// transform (Linear, GELU, LayerNorm) and a vocabulary projection, and the loss is the
// cross-entropy of the chosen tokens' original ids.
#include "selfsup/methods/text.h"

namespace selfsup::methods {
namespace {

class MLMImpl : public TextMethodImpl {
 public:
  static KeySet keys() {
    return encoder_keys().add("method.mask_rate", 0.15, "share of each sentence's inner tokens predicted");
  }
  MLMImpl(const MethodConfig& cfg, const DataSpec& spec)
      : TextMethodImpl(cfg, spec), rate_(cfg.get<double>("method.mask_rate")), vocab_(spec.vocab_size),
        mask_token_(spec.mask_token) {
    TORCH_CHECK(rate_ > 0 && rate_ < 1, "method.mask_rate must be in (0, 1), got ", rate_);
    TORCH_CHECK(mask_token_ >= 0, "mlm needs a tokenizer with a [MASK] piece (selfsup text tokenizer adds one)");
    const int64_t d = text_encoder->feature_dim();
    transform = register_module("transform", torch::nn::Linear(d, d));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(1e-6)));
    decoder = register_module("decoder", torch::nn::Linear(d, vocab_));
  }
  StepOutput training_step(const Batch& b) override {
    check_texts(b, "mlm");
    const auto& ids = b.token_ids[0];
    const auto& mask = b.token_masks[0];
    auto gen = step_generator("mlm");
    // Inner tokens: on a token, and not the row's first (<s>) or last (</s>).
    const auto lengths = mask.sum(1, true);
    const auto col = torch::arange(ids.size(1), ids.options()).unsqueeze(0);
    const auto inner = mask.logical_and(col.gt(0)).logical_and(col.lt(lengths - 1));
    const auto u = torch::rand(ids.sizes(), gen).to(ids.device());
    auto chosen = inner.logical_and(u.lt(rate_));
    // Every sentence with an inner token predicts at least one: its first, when the draw chose none.
    const auto none = chosen.any(1, true).logical_not().logical_and(inner.any(1, true));
    chosen = chosen.logical_or(none.logical_and(col.eq(1)).logical_and(inner));
    const auto v = torch::rand(ids.sizes(), gen).to(ids.device());
    const auto random_ids = torch::randint(4, vocab_, ids.sizes(), gen, torch::kLong).to(ids.device());
    auto input = torch::where(chosen.logical_and(v.lt(0.8)), torch::full_like(ids, mask_token_), ids);
    input = torch::where(chosen.logical_and(v.ge(0.8)).logical_and(v.lt(0.9)), random_ids, input);
    const auto states = text_encoder->forward_tokens(input, mask);
    const auto picked = states.index({chosen});
    const auto logits = decoder->forward(norm->forward(torch::gelu(transform->forward(picked)))).to(torch::kFloat32);
    const auto target = ids.index({chosen});
    StepOutput out;
    out.loss = torch::nn::functional::cross_entropy(logits, target);
    torch::NoGradGuard no_grad;
    out.metrics["mlm_acc"] = logits.argmax(1).eq(target).to(torch::kFloat64).mean().item<double>();
    return out;
  }

  torch::nn::Linear transform{nullptr}, decoder{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  double rate_;
  int64_t vocab_, mask_token_;
};

SELFSUP_REGISTER_METHOD(MLMImpl, "mlm", Kind::kTextEmbedding,
                        "masked-language-model pretraining of the text encoder (BERT)");

}  // namespace
}  // namespace selfsup::methods
