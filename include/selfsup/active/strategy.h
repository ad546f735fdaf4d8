#pragma once
// Active learning's query strategies: which images of the unlabeled pool to label next. A
// strategy sees the round's model through `RoundModel` (class probabilities, the representation
// its last layer reads, MC-dropout passes) and the encoder's features of every image, declares its
// config keys (`strategy.*`) beside its code and registers by name, as the methods do.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/methods/keys.h"

namespace selfsup::active {

/// The classifier trained in one round, as the strategies query it. Indices are rows of the
/// training set (the pool and the labeled images both live there).
class RoundModel {
 public:
  virtual ~RoundModel() = default;
  virtual int64_t num_classes() const = 0;
  /// Class probabilities [n, C] (float32, CPU) of the images `index`.
  virtual torch::Tensor probabilities(const torch::Tensor& index) = 0;
  /// What the last linear layer reads [n, D] (float32, CPU): BADGE's gradient embedding is the
  /// outer product of (p - onehot(argmax p)) with it.
  virtual torch::Tensor embedding(const torch::Tensor& index) = 0;
  /// [passes, n, C] probabilities with dropout at rate `dropout` on the last layer's input, one
  /// mask per pass and image drawn from `seed` (MC dropout, Gal et al. 2017).
  virtual torch::Tensor mc_probabilities(const torch::Tensor& index, int64_t passes, double dropout, uint64_t seed) = 0;
};

/// What a strategy chooses from.
struct Pool {
  torch::Tensor features;   // [N, D] float32: the encoder's features of every training image
  torch::Tensor labeled;    // [L] int64: rows already labeled
  torch::Tensor unlabeled;  // [P] int64: the pool, rows not labeled
};

class StrategyImpl {
 public:
  virtual ~StrategyImpl() = default;
  /// False for the strategies that choose without a trained model, which can pick the first
  /// labeled set (a cold start).
  virtual bool needs_model() const { return true; }
  /// `batch` distinct rows of pool.unlabeled (int64 [batch]); `model` is null for a cold start.
  /// Random draws come from `seed` alone.
  virtual torch::Tensor select(const Pool& pool, RoundModel* model, int64_t batch, uint64_t seed) = 0;
};
using Strategy = std::shared_ptr<StrategyImpl>;

struct StrategyInfo {
  std::string name, help;
  methods::KeySet keys;
  bool needs_model = true;
  std::function<Strategy(const methods::MethodConfig&)> factory;
};

class StrategyRegistry {
 public:
  static StrategyRegistry& instance();
  void add(StrategyInfo info);
  const StrategyInfo& get(const std::string& name) const;  // throws listing the known names
  std::vector<std::string> list() const;

 private:
  std::vector<StrategyInfo> infos_;
};

/// The strategy the config names (`strategy.name`) built from its `strategy.*` keys; a key the
/// strategy does not declare is refused, naming its keys.
Strategy make_strategy(const Config& cfg);
/// A strategy by name with its default keys.
Strategy make_strategy(const std::string& name);

#define SELFSUP_REGISTER_STRATEGY(Type, name, needs_model, help)                                                 \
  static const bool selfsup_strategy_registered_##Type = [] {                                                   \
    ::selfsup::active::StrategyRegistry::instance().add(                                                        \
        {name, help, Type::keys(), needs_model,                                                                 \
         [](const ::selfsup::methods::MethodConfig& c) -> ::selfsup::active::Strategy { return std::make_shared<Type>(c); }}); \
    return true;                                                                                                \
  }()

// --- the computations behind the strategies, exposed for tests and for other callers ------------

/// The `k` rows of `scores` [P] with the highest score, as positions into it (int64 [k]); ties go
/// to the lower position, so the choice is reproducible.
torch::Tensor top_k(const torch::Tensor& scores, int64_t k);

/// Uncertainty of class probabilities [n, C] (higher = more uncertain): "least_confidence"
/// 1 - max p, "margin" -(p_1 - p_2) of the two largest, "entropy" -sum p log p.
torch::Tensor uncertainty(const torch::Tensor& probabilities, const std::string& kind);

/// BALD (Houlsby et al. 2011) from MC passes [T, n, C]: the mutual information between the label
/// and the weights, H(mean_t p_t) - mean_t H(p_t), in nats; [n].
torch::Tensor bald_scores(const torch::Tensor& mc_probabilities);

/// k-center greedy (Sener and Savarese 2018): repeatedly the candidate farthest (Euclidean) from
/// its nearest center, which then joins the centers. `centers` may be empty: the first pick is
/// then the candidate `first` (a position into `candidates`). Returns positions into
/// `candidates` (int64 [k]).
torch::Tensor k_center_greedy(const torch::Tensor& features, const torch::Tensor& centers,
                              const torch::Tensor& candidates, int64_t k, int64_t first = 0);

/// Squared distances [A, B] between BADGE gradient embeddings g = u (x) h given in factored form:
/// |g_a - g_b|^2 = |u_a|^2 |h_a|^2 + |u_b|^2 |h_b|^2 - 2 (u_a . u_b)(h_a . h_b), never forming the
/// C x D outer products (megabytes instead of tens of gigabytes for a large pool).
torch::Tensor factored_sq_distances(const torch::Tensor& u_a, const torch::Tensor& h_a, const torch::Tensor& u_b,
                                    const torch::Tensor& h_b);

/// k-means++ seeding (Arthur and Vassilvitskii 2007) on gradient embeddings in factored form, as
/// BADGE (Ash et al. 2020) picks its batch: the largest embedding first, then each next point
/// with probability proportional to its squared distance to the nearest point picked. Positions
/// into the rows of u / h (int64 [k]).
torch::Tensor kmeans_pp_factored(const torch::Tensor& u, const torch::Tensor& h, int64_t k, torch::Generator& gen);

struct KMeansResult {
  torch::Tensor centers;  // [k, D]
  torch::Tensor assign;   // [N] int64
};
/// Lloyd's k-means from a k-means++ seeding drawn from `gen`, at most `iterations` rounds (stops
/// when no point changes cluster). An empty cluster takes the point farthest from its center.
KMeansResult kmeans(const torch::Tensor& x, int64_t k, int64_t iterations, torch::Generator& gen);

/// TypiClust's typicality (Hacohen et al. 2022) of each row of `x` [n, D] within its set: the
/// inverse of the mean Euclidean distance to its min(k, n - 1) nearest other rows; [n].
torch::Tensor typicality(const torch::Tensor& x, int64_t k);

}  // namespace selfsup::active
