#pragma once
// Checkpoints: one file holding everything a run needs to continue exactly where it stopped.
// Written to a temporary file in the same directory, flushed to disk, then renamed over the old
// one, so a crash mid-write leaves the previous checkpoint intact.
#include <torch/torch.h>

#include <string>

namespace selfsup::train {

struct CheckpointState {
  int64_t step = 0;          // optimizer steps completed
  int64_t total_steps = 0;   // the schedule's length (may be fitted to a time limit)
  double train_seconds = 0;  // training wall time consumed so far, across resumes
  std::string config_yaml;   // the resolved config of the run
};

/// Saves the model (parameters + buffers, e.g. MoCo's queue), the optimizer state, the counters,
/// the global RNG state and optional extra tensors (e.g. EMA weights) atomically to `path`.
/// Refuses a state with a NaN or an infinity; on any failure (a full disk) the file at `path` is
/// left as it was and no temporary file remains.
void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& state, const std::vector<torch::Tensor>& extra = {});

/// Loads into an already-built model/optimizer of the same structure. Throws naming the file when
/// it is missing, truncated, damaged (every record is checked against its CRC-32) or from another
/// model.
CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                torch::optim::Optimizer* optimizer, std::vector<torch::Tensor>* extra = nullptr);

/// Reads only the counters and config (to rebuild the model before loading it).
CheckpointState peek_checkpoint(const std::string& path);

/// Whether every floating-point value of the model (parameters, buffers) and of the optimizer's
/// state is finite; `where` names the first tensor that is not. save_checkpoint refuses to write
/// a state that is not: a checkpoint is always one a run can continue from.
bool all_finite(torch::nn::Module& model, torch::optim::Optimizer* optimizer, std::string* where);

/// Writes text atomically (temp file + rename), e.g. a run's summary and config.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace selfsup::train
