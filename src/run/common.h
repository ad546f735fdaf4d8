#pragma once
// The steps every training command takes in the same way: joining the other ranks, the process
// setup (threads, seed, device), the data and its normalisation, and the part of the summary that
// describes the training.
#include <functional>
#include <nlohmann/json.hpp>

#include "selfsup/core/config.h"
#include "selfsup/data/dataset.h"
#include "selfsup/methods/method.h"
#include "selfsup/run/options.h"
#include "selfsup/run/report.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/loader.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/semi_loader.h"
#include "selfsup/train/trainer.h"

namespace selfsup::run::detail {

/// The config a run starts with: `cfg`, or when it resumes the one saved in its folder, whose
/// method must be one `command` trains (`kinds`).
Config config_of_run(const train::RunDir& dir, Config cfg, const std::vector<methods::Kind>& kinds,
                     const char* command);

/// Joins the run's other processes, if launched as one of several ranks (torchrun's variables or
/// --nproc), with dist.timeout_seconds; returns dist.sync_batchnorm.
bool join_ranks(const Config& cfg);

struct Context {
  uint64_t seed = 0;
  torch::Device device{torch::kCPU};
  data::DataSplits data;
  train::Normalization norm;
};
/// The intra-op threads a command asked for: `requested` when positive (a command-line flag),
/// else train.threads; 0 means all cores. The one reader of train.threads.
int configured_threads(const Config& cfg, int requested = 0);
/// Threads (configured_threads; processes sharing a machine share its cores), seed and device: a
/// Context without data, for commands that read their own.
Context setup_process(const Config& cfg);
/// setup_process, then the data set (data.name) and its normalisation.
Context setup(const Config& cfg);

/// A checkpoint's method, rebuilt from the config it carries (`sets` applied: keys that leave its
/// tensors as they are), on `threads` intra-op threads (0: all cores) and `device` ("": the one it
/// was trained on), its weights loaded, in eval mode.
struct LoadedRun {
  train::CheckpointState state;
  Context context;
  methods::Method method;
  std::string method_name;
};
LoadedRun load_run(const std::string& checkpoint, int threads, const std::string& device,
                   const std::vector<std::string>& sets);

/// The two-stream loader of `semi` and `pu`: labeled and unlabeled images with the views the
/// method asks for, train.batch_size labeled images and mu times as many unlabeled ones a step,
/// this rank's share, batches a function of (derive_seed(seed, stream), step).
std::unique_ptr<train::SemiLoader> two_stream_loader(const Config& cfg, const Context& c, const data::Dataset& labeled,
                                                     const data::Dataset& unlabeled,
                                                     const std::vector<std::string>& unlabeled_views, int64_t mu,
                                                     const char* stream);

/// The trainer's options from the config and the command's.
train::TrainerOptions trainer_options(const Config& cfg, const RunOptions& ro);

/// The evaluation's figures; when a signal stops it, the error says where the trained model is.
nlohmann::json evaluated(const train::RunDir& dir, const std::function<nlohmann::json()>& evaluate);

/// The bytes of a file; an unreadable one is one error: "cannot read <what> <path>".
std::string read_file(const std::string& path, const std::string& what);

/// method, dataset, steps, total_steps, train_seconds, stopped_early, final_loss, threads,
/// processes.
nlohmann::json train_summary(const Config& cfg, const Context& c, const train::TrainResult& r);

/// Adds the hook of the config's `regularize:` list (train/regularize.h) to the trainer; false
/// when the config has none.
bool add_regularization(const Config& cfg, methods::MethodImpl& method, train::Trainer& trainer);

/// The per-layer sparsity of the method's weights (nets/sparsity.h), printed and written into the
/// run folder (rank 0); returns its totals for the summary.
nlohmann::json report_sparsity(const train::RunDir& dir, const methods::MethodImpl& method, int64_t image_size);

/// The run's report page (run/report.h) written into its folder (rank 0), its map drawn from the
/// trained `method` (left in eval mode) unless the run skipped its evaluation (--no-eval) or was
/// stopped by a signal.
void write_report(const train::RunDir& dir, const Config& cfg, const Context& c, methods::MethodImpl& method,
                  const ReportOptions& options, const RunOptions& ro);
/// The report page of a run that keeps no model of its own (an active learning loop: its curves
/// against the labeled images, its summary and config), written into its folder (rank 0).
void write_report(const train::RunDir& dir);

}  // namespace selfsup::run::detail
