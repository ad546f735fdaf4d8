// Unsupervised SimCSE (Gao et al. 2021): every sentence through the encoder twice in training
// mode, so that dropout (model.dropout, 0.1) makes the two embeddings two views of it; the
// in-batch loss of losses/simcse.h at temperature 0.05. The paper's MLP over the [CLS] state is
// used in training only (method.mlp): evaluation reads the encoder's embedding without it.
#include "selfsup/losses/simcse.h"
#include "selfsup/methods/text.h"

namespace selfsup::methods {
namespace {

class SimCSEImpl : public TextMethodImpl {
 public:
  static KeySet keys() {
    return encoder_keys()
        .set_default("model.pool", std::string("cls"))
        .add("method.temperature", 0.05, "softmax temperature of the in-batch loss")
        .add("method.mlp", true, "a dim -> dim tanh layer over the embedding in training only (the paper's)");
  }
  SimCSEImpl(const MethodConfig& cfg, const DataSpec& spec)
      : TextMethodImpl(cfg, spec), temperature_(cfg.get<double>("method.temperature")) {
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
    if (cfg.get<bool>("method.mlp")) {
      mlp = register_module("mlp", torch::nn::Linear(text_encoder->feature_dim(), text_encoder->feature_dim()));
    }
  }
  StepOutput training_step(const Batch& b) override {
    check_texts(b, "simcse");
    auto head = [&](const torch::Tensor& z) { return mlp ? torch::tanh(mlp->forward(z)) : z; };
    const auto z1 = head(embed(b.token_ids[0], b.token_masks[0]));
    const auto z2 = head(embed(b.token_ids[0], b.token_masks[0]));
    StepOutput out;
    out.loss = functional::simcse_loss(z1, z2, {}, functional::SimCSEOptions().temperature(temperature_));
    torch::NoGradGuard no_grad;
    out.metrics["view_cosine"] = torch::cosine_similarity(z1, z2, 1).mean().item<double>();
    return out;
  }

  torch::nn::Linear mlp{nullptr};

 private:
  double temperature_;
};

SELFSUP_REGISTER_METHOD(SimCSEImpl, "simcse", Kind::kTextEmbedding,
                        "unsupervised SimCSE: a sentence and itself under other dropout (Gao et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
