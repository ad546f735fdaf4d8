#pragma once
// Running the command-line programs the text module stands on: SentencePiece's spm_* tools (its
// library cannot share a process with LibTorch: it carries its own copy of protobuf, whose symbols
// collide with the libprotobuf LibTorch loads) and fastText.
#include <string>
#include <vector>

namespace selfsup::text::detail {

/// Runs argv[0] (looked up on PATH) with stdin from `stdin_path` and stdout to `stdout_path`
/// ("" for none) and waits for it. Throws "<what>: <program> ..." naming the Debian package
/// `package` when the program is missing, and the last line it wrote to stderr when it fails.
void run_program(const std::vector<std::string>& argv, const std::string& what, const std::string& package,
                 const std::string& stdin_path = "", const std::string& stdout_path = "");

/// A fresh private folder under the system's temporary folder, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace selfsup::text::detail
