#include "program.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace selfsup::text::detail {
namespace fs = std::filesystem;

TempDir::TempDir(const std::string& tag) {
  auto pattern = (fs::temp_directory_path() / ("selfsup-" + tag + "-XXXXXX")).string();
  TORCH_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary folder under ",
              fs::temp_directory_path().string());
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name) const { return (fs::path(path_) / name).string(); }

void run_program(const std::vector<std::string>& argv, const std::string& what, const std::string& package,
                 const std::string& stdin_path, const std::string& stdout_path) {
  TempDir tmp("run");
  const auto err_path = tmp.file("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdin_path.empty()) posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
  if (!stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  TORCH_CHECK(spawned != ENOENT, what, ": the program ", argv[0], " was not found (Debian's ", package,
              " package installs it; scripts/setup.sh does)");
  TORCH_CHECK(spawned == 0, what, ": cannot start ", argv[0], " (error ", spawned, ")");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::ifstream in(err_path);
  std::string line, last;
  while (std::getline(in, line)) {
    // SentencePiece's programs end every failure with this line after the one that says why.
    if (!line.empty() && line.rfind("Program terminated", 0) != 0) last = line;
  }
  TORCH_CHECK(!WIFEXITED(status) || WEXITSTATUS(status) != 127, what, ": the program ", argv[0],
              " was not found (Debian's ", package, " package installs it; scripts/setup.sh does)");
  TORCH_CHECK(false, what, ": ", argv[0], WIFEXITED(status) ? " exited with " + std::to_string(WEXITSTATUS(status))
                                                            : " was killed by signal " + std::to_string(WTERMSIG(status)),
              last.empty() ? std::string() : ": " + last);
}

}  // namespace selfsup::text::detail
