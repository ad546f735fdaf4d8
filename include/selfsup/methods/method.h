#pragma once
// A method is a module with one job: given a batch of views, return the loss and its metrics.
// The trainer loop is shared; methods only add hooks (e.g. a momentum update after the step).
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/methods/keys.h"
#include "selfsup/nets/backbone.h"
#include "selfsup/nets/heads.h"

namespace selfsup::methods {

/// One training batch: V augmented views of the same B images (named fields, never positional
/// lists), their labels (used only by supervised-contrastive methods) and dataset indices.
struct Batch {
  std::vector<torch::Tensor> views;  // each [B, C, H, W], float, normalised
  torch::Tensor labels;              // int64 [B]
  torch::Tensor indices;             // int64 [B]
  /// Semi-supervised and positive-unlabeled batches only: views (e.g. weak, strong) of mu * B
  /// unlabeled images, their dataset indices, and their true labels, which exist here (Fashion-MNIST) and are used for
  /// logging pseudo-label accuracy only: no method may train on them, but for `pn`, the
  /// supervised upper bound of `selfsup pu`, whose point is to train on them.
  std::vector<torch::Tensor> unlabeled_views;
  torch::Tensor unlabeled_indices;
  torch::Tensor unlabeled_true_labels;
  /// Text batches only (train/text_loader.h): token ids [B, L] int64 and masks [B, L] bool (true
  /// on tokens, a prefix of each row) of the sentences, then of their positives and hard
  /// negatives when the data are pairs.
  std::vector<torch::Tensor> token_ids, token_masks;

  /// The batch's first input, a view or else the first token ids: its device and its rows.
  const torch::Tensor& lead() const;
};

struct StepOutput {
  torch::Tensor loss;                      // scalar, differentiable
  std::map<std::string, double> metrics;   // logged, e.g. {"z_std": 0.04}
};

/// What a method needs to know about the data (and the run) to build itself.
struct DataSpec {
  int64_t channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
  int64_t num_unlabeled = 0;  // semi-supervised: size of the unlabeled set (FlexMatch's memory)
  int64_t num_labeled = 0;    // semi-supervised: size of the labeled set (SimMatch's bank)
  uint64_t seed = 0;          // the run's seed: per-step randomness derives from it
  int64_t vocab_size = 0;     // text: the tokenizer's vocabulary
  int64_t mask_token = -1;    // text: the tokenizer's [MASK] id (-1: none)
  /// Probabilistic labels [num_labeled, num_classes] of the labeled set, row i for its image i,
  /// when the run trains on a label model's output (data.soft_labels); undefined otherwise.
  torch::Tensor soft_targets = {};
};

class MethodImpl : public torch::nn::Module {
 public:
  /// Computes the loss of one batch (forward only; the trainer calls backward and steps).
  virtual StepOutput training_step(const Batch& batch) = 0;
  /// Called after each optimizer step with the global step (1-based) and total planned steps;
  /// momentum encoders and queues update here.
  virtual void after_optimizer_step(int64_t step, int64_t total_steps) {}
  /// The encoder whose features are evaluated (kNN, linear probe, fine-tuning).
  virtual nets::Backbone encoder() const = 0;
  /// The projector on top of the encoder, if the method has one (SimCLRv2-style fine-tuning
  /// starts from its first layer).
  virtual nets::MLPHead projector() const { return nullptr; }
  /// How many augmented views a batch must carry.
  virtual int64_t num_views() const { return 2; }
  /// Whether the method reads batch.labels (SupCon); the trainer refuses unlabeled data then.
  virtual bool uses_labels() const { return false; }
};
using Method = std::shared_ptr<MethodImpl>;

using MethodFactory = std::function<Method(const MethodConfig&, const DataSpec&)>;

/// What a method learns from, which decides the command that trains it.
enum class Kind {
  kSelfSupervised,  // unlabeled views only: `selfsup pretrain`
  kSemiSupervised,  // a few labels plus unlabeled images: `selfsup semi`
  kSupervised,      // labels only: the reference under either command
  kPositiveUnlabeled,  // labeled positives plus unlabeled images, a binary classifier: `selfsup pu`
  kDenoising,          // noisy images (and for some a target), an image-to-image network: `selfsup denoise`
  kTextEmbedding,      // sentences (or sentence pairs), a sentence encoder: `selfsup text train`
};
const char* kind_name(Kind kind);

struct MethodInfo {
  std::string name;
  Kind kind;
  std::string description;
  KeySet keys;
  MethodFactory factory;
};

/// Name -> method. Methods register themselves with a static SELFSUP_REGISTER_METHOD.
class Registry {
 public:
  static Registry& instance();
  void add(MethodInfo info);
  /// Throws naming the method and listing the known ones when the name is unknown.
  const MethodInfo& get(const std::string& name) const;
  std::vector<MethodInfo> list() const;
  /// The names of the methods of the given kinds, comma-separated.
  std::string names(const std::vector<Kind>& kinds) const;

 private:
  std::map<std::string, MethodInfo> methods_;
};

/// Builds the method named by `method.name`, refusing one whose kind is not in `kinds` (empty:
/// any kind), naming the methods that are, and any method.* key it does not declare.
Method make_method(const Config& cfg, const DataSpec& spec, const std::vector<Kind>& kinds = {});

/// Mean over features of the per-feature standard deviation of L2-normalised outputs: a
/// collapsed representation gives ~0, a healthy one about 1/sqrt(D).
double normalized_std(const torch::Tensor& z);

}  // namespace selfsup::methods

#define SELFSUP_CONCAT_INNER(a, b) a##b
#define SELFSUP_CONCAT(a, b) SELFSUP_CONCAT_INNER(a, b)
/// Registers TYPE (a MethodImpl with `static KeySet keys()` and a constructor taking
/// (const MethodConfig&, const DataSpec&)) under NAME.
#define SELFSUP_REGISTER_METHOD(TYPE, NAME, KIND, DESCRIPTION)                                        \
  static const bool SELFSUP_CONCAT(selfsup_method_registered_, __COUNTER__) = [] {                   \
    ::selfsup::methods::Registry::instance().add(                                                      \
        {NAME, KIND, DESCRIPTION, TYPE::keys(),                                                       \
         [](const ::selfsup::methods::MethodConfig& c, const ::selfsup::methods::DataSpec& s)          \
             -> ::selfsup::methods::Method { return std::make_shared<TYPE>(c, s); }});                 \
    return true;                                                                                       \
  }()
