#include "selfsup/train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "selfsup/dist/dist.h"

namespace selfsup::train {
namespace fs = std::filesystem;
namespace {

// The only place the names of a run's files are written down.
constexpr const char* kConfig = "config.yaml";
constexpr const char* kMetrics = "metrics.jsonl";
constexpr const char* kCheckpoint = "last.ckpt";
constexpr const char* kSummary = "summary.json";
constexpr const char* kSparsity = "sparsity.json";
constexpr const char* kReconstructions = "reconstructions.png";
constexpr const char* kDenoiseExamples = "denoise_examples.png";
// A text run's SentencePiece model: the run carries the tokenizer its embeddings need.
constexpr const char* kTokenizer = "tokenizer.model";
constexpr const char* kReport = "report.html";
// An active learning loop: its state between rounds (in place of a checkpoint) and its curve.
constexpr const char* kActiveState = "active_state.json";
constexpr const char* kCurve = "curve.json";
constexpr const char* kCurvePicture = "curve.png";
constexpr const char* kRunFiles[] = {kConfig, kMetrics, kCheckpoint, kSummary, kSparsity, kReconstructions, kReport,
                                     kDenoiseExamples, kTokenizer, kActiveState, kCurve, kCurvePicture};
// A person's labelling round: the query the loop writes and the answer it waits for.
constexpr const char* kQueryPrefix = "query_round_";
constexpr const char* kLabelsPrefix = "labels_round_";
// Held with flock() by the live run: the kernel releases it when the process dies, however.
constexpr const char* kLock = "run.lock";

/// The pid written in a folder's lock file when a live process holds it, else 0.
long lock_holder(const std::string& lock_path) {
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  long pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    std::ifstream in(lock_path);
    in >> pid;
    if (pid <= 0) pid = -1;
  }
  ::close(fd);
  return pid;
}

}  // namespace

RunMode run_mode(bool resume, bool overwrite) {
  TORCH_CHECK(!(resume && overwrite), "--resume continues the run in --out and --overwrite replaces it: give one");
  return resume ? RunMode::kResume : overwrite ? RunMode::kOverwrite : RunMode::kFresh;
}

RunDir::RunDir(std::string path, RunMode mode) : path_(std::move(path)), mode_(mode) {
  TORCH_CHECK(!path_.empty(), "a run needs an output folder (--out)");
  std::error_code ec;
  TORCH_CHECK(!fs::exists(path_, ec) || fs::is_directory(path_, ec), "--out ", path_, " is a file, not a folder");
  if (const long pid = lock_holder(file(kLock))) {
    TORCH_CHECK(false, "--out ", path_, " is in use by a run that is still going",
                pid > 0 ? " (process " + std::to_string(pid) + ")" : std::string(), ": wait for it or stop it first");
  }
  if (mode_ == RunMode::kResume) {
    TORCH_CHECK(has_checkpoint() || has_active_state(), "--resume: no checkpoint at ", checkpoint_path());
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
  if (!has_checkpoint() && has_active_state()) {
    const auto state = read_active_state();
    TORCH_CHECK(state.contains("config") && state["config"].is_string(), file(kActiveState), " has no config");
    return Config::parse(state["config"].get<std::string>(), file(kActiveState));
  }
  TORCH_CHECK(has_checkpoint(), "no checkpoint at ", checkpoint_path());
  return Config::parse(peek_checkpoint(checkpoint_path()).config_yaml, checkpoint_path());
}

void RunDir::start(const Config& cfg) {
  if (empty() || !dist::is_main()) return;
  fs::create_directories(path_);
  const int fd = ::open(file(kLock).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, "cannot create ", file(kLock), ": ", std::strerror(errno));
  lock_ = std::shared_ptr<int>(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  TORCH_CHECK(::flock(fd, LOCK_EX | LOCK_NB) == 0, "--out ", path_,
              " is in use by a run that is still going: wait for it or stop it first");
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    TORCH_CHECK(false, "cannot write ", file(kLock), ": ", std::strerror(errno));
  }
  // Under the lock no other run writes here: temporary files are what a killed run left.
  for (const auto& e : fs::directory_iterator(path_)) {
    const auto name = e.path().filename().string();
    for (const char* f : kRunFiles) {
      if (name.rfind(std::string(f) + ".tmp.", 0) == 0) {
        std::error_code ec;
        fs::remove(e.path(), ec);
      }
    }
  }
  if (mode_ == RunMode::kOverwrite) {
    for (const char* f : kRunFiles) {
      std::error_code ec;
      fs::remove(file(f), ec);
      TORCH_CHECK(!ec, "--overwrite: cannot remove ", file(f), ": ", ec.message());
    }
    for (const auto& e : fs::directory_iterator(path_)) {
      const auto name = e.path().filename().string();
      if (name.rfind(kQueryPrefix, 0) == 0 || name.rfind(kLabelsPrefix, 0) == 0) {
        std::error_code ec;
        fs::remove(e.path(), ec);
        TORCH_CHECK(!ec, "--overwrite: cannot remove ", e.path().string(), ": ", ec.message());
      }
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

void RunDir::write_sparsity(const nlohmann::json& report) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kSparsity), report.dump(2) + "\n");
}

std::string RunDir::sparsity_path() const { return file(kSparsity); }

void RunDir::write_reconstructions(const std::string& png) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kReconstructions), png);
}

std::string RunDir::reconstructions_path() const { return file(kReconstructions); }

void RunDir::write_denoise_examples(const std::string& png) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kDenoiseExamples), png);
}

std::string RunDir::denoise_examples_path() const { return file(kDenoiseExamples); }

void RunDir::write_tokenizer(const std::string& model) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kTokenizer), model);
}

std::string RunDir::tokenizer_path() const { return file(kTokenizer); }

std::string RunDir::tokenizer_of(const std::string& checkpoint) {
  return (fs::path(checkpoint).parent_path() / kTokenizer).string();
}

void RunDir::write_report(const std::string& html) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kReport), html);
}

std::string RunDir::report_path() const { return file(kReport); }

bool RunDir::has_active_state() const {
  std::error_code ec;
  return !empty() && fs::exists(file(kActiveState), ec);
}

void RunDir::write_active_state(const nlohmann::json& state) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kActiveState), state.dump() + "\n");
}

nlohmann::json RunDir::read_active_state() const {
  const auto path = file(kActiveState);
  std::ifstream in(path);
  TORCH_CHECK(in.good(), "cannot read ", path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, path, " is damaged: ", e.what());
  }
}

void RunDir::write_curve(const nlohmann::json& curve, const std::string& png) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(file(kCurve), curve.dump(2) + "\n");
  if (!png.empty()) write_file_atomic(file(kCurvePicture), png);
}

std::string RunDir::curve_path() const { return file(kCurve); }
std::string RunDir::curve_picture_path() const { return file(kCurvePicture); }

std::string RunDir::curve_of(const std::string& folder) { return (fs::path(folder) / kCurve).string(); }

namespace {
std::string round_file(const char* prefix, int64_t round) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03lld", static_cast<long long>(round));
  return std::string(prefix) + buf + ".csv";
}
}  // namespace

std::string RunDir::query_path(int64_t round) const { return (fs::path(path_) / round_file(kQueryPrefix, round)).string(); }
void RunDir::write_query(int64_t round, const std::string& csv) const {
  if (empty() || !dist::is_main()) return;
  write_file_atomic(query_path(round), csv);
}

std::string RunDir::labels_path(int64_t round) const {
  return (fs::path(path_) / round_file(kLabelsPrefix, round)).string();
}

}  // namespace selfsup::train
