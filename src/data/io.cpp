#include "selfsup/data/io.h"

#include <c10/util/Exception.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace selfsup::data {

struct FileReader::Impl {
  std::FILE* raw = nullptr;
  gzFile gz = nullptr;
  int pending = -1;  // one byte of look-ahead taken by at_end()
};

FileReader::FileReader(std::string path) : impl_(std::make_unique<Impl>()), path_(std::move(path)) {
  std::error_code ec;
  const auto status = fs::status(path_, ec);
  TORCH_CHECK(fs::exists(status), path_, ": file not found");
  TORCH_CHECK(!fs::is_directory(status), path_, ": is a directory, expected a file");
  file_size_ = static_cast<int64_t>(fs::file_size(path_, ec));
  if (ec) file_size_ = -1;  // pipes and devices have no size

  impl_->raw = std::fopen(path_.c_str(), "rb");
  TORCH_CHECK(impl_->raw, path_, ": cannot open (", std::strerror(errno), ")");
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, impl_->raw);
  gzipped_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzipped_) {
    std::rewind(impl_->raw);
    return;
  }
  std::fclose(impl_->raw);
  impl_->raw = nullptr;
  impl_->gz = gzopen(path_.c_str(), "rb");
  TORCH_CHECK(impl_->gz, path_, ": cannot open gzip file (", std::strerror(errno), ")");
  gzbuffer(impl_->gz, 1 << 20);  // the 8 KiB default makes a 60k-image file several times slower
}

FileReader::~FileReader() {
  if (impl_->raw) std::fclose(impl_->raw);
  if (impl_->gz) gzclose(impl_->gz);
}

int64_t FileReader::read(void* dst, int64_t n) {
  TORCH_CHECK(n >= 0, path_, ": negative read size ", n);
  auto* out = static_cast<unsigned char*>(dst);
  int64_t done = 0;
  if (n > 0 && impl_->pending >= 0) {
    out[done++] = static_cast<unsigned char>(impl_->pending);
    impl_->pending = -1;
  }
  while (done < n) {
    const int64_t want = std::min<int64_t>(n - done, int64_t{1} << 30);
    int64_t got;
    if (impl_->gz) {
      got = gzread(impl_->gz, out + done, static_cast<unsigned>(want));
      int err = Z_OK;
      const char* msg = gzerror(impl_->gz, &err);
      if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
        // zlib reads ahead, so the failure position would mislead; its message repeats the path.
        std::string why = msg ? msg : "unknown error";
        if (why.rfind(path_ + ": ", 0) == 0) why = why.substr(path_.size() + 2);
        TORCH_CHECK(err != Z_BUF_ERROR, path_,
                    ": truncated gzip data: the compressed stream ends early (zlib: ", why, ")");
        TORCH_CHECK(false, path_, ": corrupt gzip data (zlib: ", why, ")");
      }
    } else {
      got = static_cast<int64_t>(std::fread(out + done, 1, static_cast<size_t>(want), impl_->raw));
      TORCH_CHECK(!std::ferror(impl_->raw), path_, ": read error (", std::strerror(errno), ")");
    }
    done += got;
    if (got < want) break;
  }
  position_ += done;
  return done;
}

void FileReader::read_exact(void* dst, int64_t n, const std::string& what) {
  const int64_t start = position_;
  const int64_t got = read(dst, n);
  if (got == n) return;
  TORCH_CHECK(start + got > 0, path_, ": file is empty");
  TORCH_CHECK(false, path_, ": truncated: expected ", n, " bytes of ", what, " at offset ", start,
              " but the file ends after ", got);
}

std::vector<uint8_t> FileReader::read_up_to(int64_t n) {
  TORCH_CHECK(n >= 0, path_, ": negative read size ", n);
  std::vector<uint8_t> buf;
  int64_t have = 0;
  int64_t step = std::min<int64_t>(n, int64_t{64} << 20);
  // Raw files know their size, so the buffer can be sized once.
  if (!gzipped_ && file_size_ >= 0) step = std::min<int64_t>(n, std::max<int64_t>(file_size_, 1));
  while (have < n) {
    const int64_t want = std::min<int64_t>(step, n - have);
    buf.resize(static_cast<size_t>(have + want));
    const int64_t got = read(buf.data() + have, want);
    have += got;
    if (got < want) break;
    step = std::min<int64_t>(have, int64_t{1} << 30);  // geometric growth
  }
  buf.resize(static_cast<size_t>(have));
  return buf;
}

std::vector<uint8_t> FileReader::read_all() {
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 16];
  for (;;) {
    const int64_t got = read(chunk, sizeof(chunk));
    out.insert(out.end(), chunk, chunk + got);
    if (got < static_cast<int64_t>(sizeof(chunk))) return out;
  }
}

bool FileReader::at_end() {
  if (impl_->pending >= 0) return false;
  unsigned char c;
  if (read(&c, 1) == 0) return true;
  impl_->pending = c;
  --position_;
  return false;
}

torch::Tensor bytes_to_tensor(std::vector<uint8_t>&& bytes, at::IntArrayRef shape) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  TORCH_CHECK(numel == static_cast<int64_t>(bytes.size()), "bytes_to_tensor: ", bytes.size(),
              " bytes do not fill shape ", shape);
  if (numel == 0) return torch::empty(shape, torch::kUInt8);
  // Hand the buffer to the tensor instead of copying tens of megabytes.
  auto* owner = new std::vector<uint8_t>(std::move(bytes));
  return torch::from_blob(
      owner->data(), shape, [owner](void*) { delete owner; }, torch::kUInt8);
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string find_first_existing(const std::vector<std::string>& candidates, const std::string& what) {
  TORCH_CHECK(!candidates.empty(), what, ": no file names given");
  for (const auto& c : candidates) {
    if (file_exists(c)) return c;
  }
  std::string msg = what + ": file not found: " + candidates[0];
  if (candidates.size() > 1) {
    msg += " (nor ";
    for (size_t i = 1; i < candidates.size(); ++i) msg += (i > 1 ? ", " : "") + candidates[i];
    msg += ")";
  }
  TORCH_CHECK(false, msg);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  TORCH_CHECK(in, path, ": cannot open (", std::strerror(errno), ")");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r\n");
    lines.push_back(line.substr(first, last - first + 1));
  }
  return lines;
}

}  // namespace selfsup::data
