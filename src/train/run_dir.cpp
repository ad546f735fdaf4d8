#include "selfsup/train/run_dir.h"

#include <filesystem>

#include "selfsup/dist/dist.h"

namespace selfsup::train {
namespace fs = std::filesystem;
namespace {

// The only place the names of a run's files are written down.
constexpr const char* kConfig = "config.yaml";
constexpr const char* kMetrics = "metrics.jsonl";
constexpr const char* kCheckpoint = "last.ckpt";
constexpr const char* kSummary = "summary.json";
constexpr const char* kRunFiles[] = {kConfig, kMetrics, kCheckpoint, kSummary};

}  // namespace

RunMode run_mode(bool resume, bool overwrite) {
  TORCH_CHECK(!(resume && overwrite), "--resume continues the run in --out and --overwrite replaces it: give one");
  return resume ? RunMode::kResume : overwrite ? RunMode::kOverwrite : RunMode::kFresh;
}

RunDir::RunDir(std::string path, RunMode mode) : path_(std::move(path)), mode_(mode) {
  TORCH_CHECK(!path_.empty(), "a run needs an output folder (--out)");
  std::error_code ec;
  TORCH_CHECK(!fs::exists(path_, ec) || fs::is_directory(path_, ec), "--out ", path_, " is a file, not a folder");
  if (mode_ == RunMode::kResume) {
    TORCH_CHECK(has_checkpoint(), "--resume: no checkpoint at ", checkpoint_path());
  } else if (mode_ == RunMode::kFresh) {
    std::string found;
    for (const char* f : kRunFiles) {
      if (fs::exists(file(f), ec)) found += (found.empty() ? "" : ", ") + std::string(f);
    }
    TORCH_CHECK(found.empty(), "--out ", path_, " holds another run (", found,
                "): pass --resume to continue it or --overwrite to replace it");
  }
}

std::string RunDir::file(const char* name) const { return (fs::path(path_) / name).string(); }
std::string RunDir::checkpoint_path() const { return file(kCheckpoint); }

std::string RunDir::checkpoint_of(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? (fs::path(path) / kCheckpoint).string() : path;
}

bool RunDir::has_checkpoint() const {
  std::error_code ec;
  return !empty() && fs::exists(checkpoint_path(), ec);
}

Config RunDir::saved_config() const {
  TORCH_CHECK(has_checkpoint(), "no checkpoint at ", checkpoint_path());
  return Config::parse(peek_checkpoint(checkpoint_path()).config_yaml, checkpoint_path());
}

void RunDir::start(const Config& cfg) {
  if (empty() || !dist::is_main()) return;
  fs::create_directories(path_);
  if (mode_ == RunMode::kOverwrite) {
    for (const char* f : kRunFiles) {
      std::error_code ec;
      fs::remove(file(f), ec);
      TORCH_CHECK(!ec, "--overwrite: cannot remove ", file(f), ": ", ec.message());
    }
  }
  write_file_atomic(file(kConfig), cfg.dump());
  metrics_ = std::make_shared<std::ofstream>(file(kMetrics), resuming() ? std::ios::app : std::ios::trunc);
  TORCH_CHECK(metrics_->good(), "cannot write ", file(kMetrics));
}

void RunDir::append_metrics(const nlohmann::json& line) {
  if (!metrics_) return;
  *metrics_ << line.dump() << "\n" << std::flush;
  TORCH_CHECK(metrics_->good(), "error while writing ", file(kMetrics));
}

void RunDir::save_checkpoint(torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                             const CheckpointState& s) const {
  if (empty() || !dist::is_main()) return;
  train::save_checkpoint(checkpoint_path(), model, optimizer, s);
}

CheckpointState RunDir::load_checkpoint(torch::nn::Module& model, torch::optim::Optimizer* optimizer) const {
  return train::load_checkpoint(checkpoint_path(), model, optimizer);
}

void RunDir::write_summary(const nlohmann::json& summary) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kSummary), summary.dump(2) + "\n");
}

}  // namespace selfsup::train
