#pragma once
// Reading data files that may or may not be gzip-compressed, with errors that name the file.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace selfsup::data {

/// Sequential reader of a raw or gzip file. Gzip is detected by its magic bytes (1f 8b), never by
/// the file name, so "x.gz" holding raw bytes and "x" holding gzip data both read correctly.
/// Every error is a c10::Error whose message starts with the path.
class FileReader {
 public:
  /// Throws "<path>: file not found" / "<path>: cannot open" when the file is not readable.
  explicit FileReader(std::string path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  /// Reads up to n bytes; fewer only at the end of the data. A damaged gzip stream is an error.
  int64_t read(void* dst, int64_t n);
  /// Reads exactly n bytes; a short read is a "truncated" error mentioning `what`.
  void read_exact(void* dst, int64_t n, const std::string& what);
  /// Reads up to n bytes into a buffer grown as data arrives, so that a bogus size in a header
  /// cannot force a huge allocation before the file proves to be that long.
  std::vector<uint8_t> read_up_to(int64_t n);
  /// Reads everything that is left.
  std::vector<uint8_t> read_all();
  /// True when no byte is left (peeks, so it may block on a pipe).
  bool at_end();

  const std::string& path() const { return path_; }
  bool gzipped() const { return gzipped_; }
  /// Size of the file on disk (compressed size for gzip).
  int64_t file_size() const { return file_size_; }
  /// Number of (decompressed) bytes delivered so far.
  int64_t position() const { return position_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  bool gzipped_ = false;
  int64_t file_size_ = 0;
  int64_t position_ = 0;
};

/// Wraps `bytes` (moved, not copied) as a uint8 tensor of `shape`.
torch::Tensor bytes_to_tensor(std::vector<uint8_t>&& bytes, at::IntArrayRef shape);

/// True when `path` names an existing regular file.
bool file_exists(const std::string& path);
/// Returns the first existing path among `candidates`; otherwise throws
/// "<what>: file not found: a (nor b, c)".
std::string find_first_existing(const std::vector<std::string>& candidates, const std::string& what);
/// Non-empty, trimmed lines of a text file (class-name lists).
std::vector<std::string> read_lines(const std::string& path);

}  // namespace selfsup::data
