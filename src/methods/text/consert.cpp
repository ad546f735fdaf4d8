// ConSERT (Yan et al. 2021): two views of each sentence made in the embedding layer, each by one
// augmentation of text/augment.h (method.augment: [view 1's, view 2's], each of none, shuffle,
// token_cutoff, feature_cutoff; the encoder's dropout, model.dropout, is on in both: "none" is
// dropout alone), pulled together by NT-Xent (losses/nt_xent.h) at temperature 0.1 over mean-
// pooled embeddings. The paper's best unsupervised pair is token shuffle with feature cutoff.
#include "selfsup/losses/nt_xent.h"
#include "selfsup/methods/text.h"
#include "selfsup/augment/text.h"

namespace selfsup::methods {
namespace {

class ConSERTImpl : public TextMethodImpl {
 public:
  static KeySet keys() {
    return encoder_keys()
        .add("method.temperature", 0.1, "NT-Xent's temperature")
        .add("method.augment", std::vector<std::string>{"shuffle", "feature_cutoff"},
             "the two views' augmentations: none, shuffle, token_cutoff or feature_cutoff each")
        .add("method.token_cutoff_rate", 0.15, "share of each sentence's tokens token_cutoff zeroes")
        .add("method.feature_cutoff_rate", 0.2, "share of the embedding dimensions feature_cutoff zeroes");
  }
  ConSERTImpl(const MethodConfig& cfg, const DataSpec& spec)
      : TextMethodImpl(cfg, spec), temperature_(cfg.get<double>("method.temperature")),
        augment_(cfg.get<std::vector<std::string>>("method.augment")),
        token_rate_(cfg.get<double>("method.token_cutoff_rate")),
        feature_rate_(cfg.get<double>("method.feature_cutoff_rate")) {
    TORCH_CHECK(temperature_ > 0, "method.temperature must be positive, got ", temperature_);
    TORCH_CHECK(augment_.size() == 2, "method.augment must name two augmentations (one per view), got ",
                augment_.size());
    for (const auto& a : augment_) {
      TORCH_CHECK(a == "none" || a == "shuffle" || a == "token_cutoff" || a == "feature_cutoff",
                  "method.augment: unknown augmentation '", a, "' (expected none, shuffle, token_cutoff, feature_cutoff)");
    }
    TORCH_CHECK(token_rate_ >= 0 && token_rate_ < 1, "method.token_cutoff_rate must be in [0, 1), got ", token_rate_);
    TORCH_CHECK(feature_rate_ >= 0 && feature_rate_ < 1, "method.feature_cutoff_rate must be in [0, 1), got ",
                feature_rate_);
  }
  StepOutput training_step(const Batch& b) override {
    check_texts(b, "consert");
    const auto& ids = b.token_ids[0];
    const auto& mask = b.token_masks[0];
    auto gen = step_generator("consert");
    auto view = [&](const std::string& a) {
      torch::Tensor positions;
      nets::TextEncoderImpl::EmbeddingHook hook;
      if (a == "shuffle") {
        positions = augment::text::shuffled_positions(mask, gen);
      } else if (a == "token_cutoff") {
        const auto cut = augment::text::token_cutoff_mask(mask, token_rate_, gen);
        hook = [cut](const torch::Tensor& e) { return augment::text::cut_tokens(e, cut); };
      } else if (a == "feature_cutoff") {
        const auto cut = augment::text::feature_cutoff_mask(ids.size(0), text_encoder->feature_dim(), feature_rate_, gen,
                                                   ids.device());
        hook = [cut](const torch::Tensor& e) { return augment::text::cut_features(e, cut); };
      }
      return text_encoder->pool(text_encoder->forward_tokens(ids, mask, positions, hook), mask);
    };
    const auto z1 = view(augment_[0]), z2 = view(augment_[1]);
    StepOutput out;
    out.loss = functional::nt_xent(z1, z2, functional::NTXentOptions().temperature(temperature_));
    return out;
  }

 private:
  double temperature_;
  std::vector<std::string> augment_;
  double token_rate_, feature_rate_;
};

SELFSUP_REGISTER_METHOD(ConSERTImpl, "consert", Kind::kTextEmbedding,
                        "ConSERT: two views from shuffle / token cutoff / feature cutoff / dropout (Yan et al. 2021)");

}  // namespace
}  // namespace selfsup::methods
