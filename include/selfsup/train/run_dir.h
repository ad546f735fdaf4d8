#pragma once
// A run's output folder and the one owner of what is in it: the resolved config, one metrics line
// per logged step, the checkpoint a run resumes from, the final summary, for a text run its
// tokenizer, for a regularized run its sparsity report, for a masked autoencoder its
// reconstruction picture, and the report page that shows it all. Every command that trains
// writes through it, so a folder is never shared by two runs by accident: a fresh run refuses a
// folder that holds another run's files unless told to overwrite them or to resume that run,
// and a run holds a lock on its folder while it lives, so a second command (even one told to
// --resume or --overwrite) cannot write into a folder a run is still writing. Only rank 0 of a
// distributed run writes; every write is atomic or append-only.
#include <torch/torch.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "selfsup/core/config.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::train {

enum class RunMode {
  kFresh,      // a new run: the folder must not hold another run's files
  kResume,     // continue the run in the folder from its checkpoint
  kOverwrite,  // a new run replacing the one in the folder
};

/// kResume for --resume, kOverwrite for --overwrite, else kFresh; both flags at once are refused.
RunMode run_mode(bool resume, bool overwrite);

class RunDir {
 public:
  /// No folder: nothing is read or written (library calls and tests that need no files).
  RunDir() = default;
  /// Checks `path` for a run in `mode`, reading only (so every rank may check before they meet):
  /// a folder a live run holds is refused in every mode, kFresh refuses a folder with another
  /// run's files, naming them, kResume needs its checkpoint.
  RunDir(std::string path, RunMode mode);

  bool empty() const { return path_.empty(); }
  const std::string& path() const { return path_; }
  bool resuming() const { return mode_ == RunMode::kResume; }
  /// The config the run started with, kept in its checkpoint: a resumed run continues with it.
  Config saved_config() const;

  /// Rank 0 starts the folder: takes its lock for the life of this object, removes temporary
  /// files a killed run left and the files of the run it overwrites, writes the config and,
  /// unless resuming, starts the metrics afresh.
  void start(const Config& cfg);
  /// Appends one JSON line to the metrics (rank 0).
  void append_metrics(const nlohmann::json& line);
  /// Writes the checkpoint atomically (rank 0; the ranks' states are identical).
  void save_checkpoint(torch::nn::Module& model, torch::optim::Optimizer* optimizer, const CheckpointState& s) const;
  /// Loads the checkpoint into an already-built model and optimizer (every rank).
  CheckpointState load_checkpoint(torch::nn::Module& model, torch::optim::Optimizer* optimizer) const;
  bool has_checkpoint() const;
  std::string checkpoint_path() const;
  /// The checkpoint a path names: the run folder's when it is a folder, else the path itself.
  static std::string checkpoint_of(const std::string& path);
  /// Writes the summary atomically (rank 0).
  void write_summary(const nlohmann::json& summary) const;
  /// Writes the per-layer sparsity report (nets/sparsity.h) atomically (rank 0).
  void write_sparsity(const nlohmann::json& report) const;
  std::string sparsity_path() const;
  /// Writes the reconstruction picture (eval/reconstruct.h; the bytes of a PNG) atomically (rank 0).
  void write_reconstructions(const std::string& png) const;
  std::string reconstructions_path() const;
  /// Writes a denoising run's examples picture (denoise/images.h; PNG bytes) atomically (rank 0).
  void write_denoise_examples(const std::string& png) const;
  std::string denoise_examples_path() const;
  /// A text run's tokenizer (a SentencePiece .model's bytes), and where a checkpoint's lies.
  void write_tokenizer(const std::string& model) const;
  std::string tokenizer_path() const;
  static std::string tokenizer_of(const std::string& checkpoint);
  /// Writes the run's report page (run/report.h; HTML) atomically (rank 0).
  void write_report(const std::string& html) const;
  std::string report_path() const;

  /// An active learning loop (run/active.h) keeps its state between rounds in place of a
  /// checkpoint: the labels revealed, the curve, a query waiting for a person's labels and the
  /// config. Written atomically (rank 0); read naming the file when it is damaged.
  bool has_active_state() const;
  void write_active_state(const nlohmann::json& state) const;
  nlohmann::json read_active_state() const;
  /// The learning curve (JSON) and its picture (the bytes of a PNG; none when empty), atomically.
  void write_curve(const nlohmann::json& curve, const std::string& png) const;
  std::string curve_path() const;
  std::string curve_picture_path() const;
  /// The curve file of the run in `folder`, for readers of finished runs (active compare).
  static std::string curve_of(const std::string& folder);
  /// A person's labelling round: the query the loop writes (CSV) and the labels file it waits for.
  void write_query(int64_t round, const std::string& csv) const;
  std::string query_path(int64_t round) const;
  std::string labels_path(int64_t round) const;

 private:
  std::string file(const char* name) const;
  std::string path_;
  RunMode mode_ = RunMode::kFresh;
  std::shared_ptr<std::ofstream> metrics_;
  std::shared_ptr<int> lock_;  // the lock file's descriptor, closed (and the lock released) last
};

}  // namespace selfsup::train
