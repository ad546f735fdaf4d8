// Supervised SimCSE (Gao et al. 2021): a sentence's positive is its pair's second column, and
// every row's third column is a hard negative for all anchors (losses/simcse.h); temperature
// 0.05. On the default corpus (text/default_corpus.h) the pairs are an example sentence and its
// synset's definition, the hard negative a sibling synset's definition.
#include "selfsup/losses/simcse.h"
#include "selfsup/methods/text.h"

namespace selfsup::methods {
namespace {

class SimCSESupImpl : public TextMethodImpl {
 public:
  static KeySet keys() {
    return encoder_keys()
        .set_default("model.pool", std::string("cls"))
        .add("method.temperature", 0.05, "softmax temperature of the in-batch loss")
        .add("method.mlp", true, "a dim -> dim tanh layer over the embedding in training only");
  }
  SimCSESupImpl(const MethodConfig& cfg, const DataSpec& spec)
      : TextMethodImpl(cfg, spec), temperature_(cfg.get<double>("method.temperature")) {
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
    if (cfg.get<bool>("method.mlp")) {
      mlp = register_module("mlp", torch::nn::Linear(text_encoder->feature_dim(), text_encoder->feature_dim()));
    }
  }
  int64_t num_texts() const override { return 3; }
  StepOutput training_step(const Batch& b) override {
    check_texts(b, "simcse_sup");
    auto z = [&](size_t k) {
      const auto e = embed(b.token_ids[k], b.token_masks[k]);
      return mlp ? torch::tanh(mlp->forward(e)) : e;
    };
    StepOutput out;
    out.loss = functional::simcse_loss(z(0), z(1), z(2), functional::SimCSEOptions().temperature(temperature_));
    return out;
  }

  torch::nn::Linear mlp{nullptr};

 private:
  double temperature_;
};

SELFSUP_REGISTER_METHOD(SimCSESupImpl, "simcse_sup", Kind::kTextEmbedding,
                        "supervised SimCSE: sentence pairs, with hard negatives (Gao et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
