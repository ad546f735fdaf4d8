#include "selfsup/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace selfsup::train {
namespace {

std::string parent_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string tmp_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

/// Writes `size` bytes to a temporary file beside `path`, fsyncs it and renames it over `path`.
/// Every failure (a full disk, a lost permission) removes the temporary file, leaves `path` as it
/// was and throws one message naming the file and the system's reason.
void write_bytes_atomic(const std::string& path, const char* data, size_t size, const char* what) {
  const auto tmp = tmp_name(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TORCH_CHECK(fd >= 0, "cannot write ", what, " ", tmp, ": ", std::strerror(errno));
  auto fail = [&](const char* step) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    TORCH_CHECK(false, "cannot write ", what, " ", path, " (", step, "): ", std::strerror(err), "; ",
                std::filesystem::exists(path) ? "the previous one is kept" : "nothing was written");
  };
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    TORCH_CHECK(false, "cannot write ", what, " ", path, " (close): ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    TORCH_CHECK(false, "cannot rename ", tmp, " to ", path, ": ", std::strerror(err));
  }
  fsync_dir(parent_of(path));
}

torch::Tensor scalar(int64_t v) { return torch::tensor({v}, torch::kLong); }

uint32_t le16(const std::string& b, size_t at) {
  return static_cast<uint8_t>(b[at]) | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8;
}
uint64_t le32(const std::string& b, size_t at) { return le16(b, at) | static_cast<uint64_t>(le16(b, at + 2)) << 16; }
uint64_t le64(const std::string& b, size_t at) { return le32(b, at) | le32(b, at + 4) << 32; }

// Whether n bytes from `at` lie inside b; offsets come from the file and may be near 2^64, where
// `at + n > size` would wrap around.
bool fits(const std::string& b, uint64_t at, uint64_t n) { return at <= b.size() && n <= b.size() - at; }

/// A checkpoint is a zip archive (LibTorch's format) whose central directory records each entry's
/// CRC-32; LibTorch's reader does not check them, so a flipped bit would load as a wrong weight.
/// Returns "" when every entry's data matches its CRC, else what is wrong.
std::string zip_damage(const std::string& b) {
  constexpr uint32_t kEnd = 0x06054b50, kEnd64 = 0x06064b50, kLocator64 = 0x07064b50, kCentral = 0x02014b50,
                     kLocal = 0x04034b50;
  if (b.size() < 22) return "too short for a zip archive";
  size_t end = std::string::npos;
  for (size_t i = b.size() - 22 + 1; i-- > 0 && b.size() - i <= 22 + 65535;) {
    if (le32(b, i) == kEnd) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos) return "no zip directory (truncated?)";
  uint64_t entries = le16(b, end + 10), dir = le32(b, end + 16);
  if ((entries == 0xFFFF || dir == 0xFFFFFFFF) && end >= 20 && le32(b, end - 20) == kLocator64) {
    const uint64_t at = le64(b, end - 20 + 8);
    if (!fits(b, at, 56) || le32(b, at) != kEnd64) return "a damaged zip64 directory";
    entries = le64(b, at + 32);
    dir = le64(b, at + 48);
  }
  uint64_t p = dir;
  for (uint64_t e = 0; e < entries; ++e) {
    if (!fits(b, p, 46) || le32(b, p) != kCentral) return "a damaged zip directory";
    const uint32_t crc = static_cast<uint32_t>(le32(b, p + 16));
    const unsigned method = le16(b, p + 10);
    uint64_t size = le32(b, p + 20), plain = le32(b, p + 24), local = le32(b, p + 42);
    const size_t name = le16(b, p + 28), extra = le16(b, p + 30), comment = le16(b, p + 32);
    if (!fits(b, p, 46 + name + extra)) return "a damaged zip directory";
    // Zip64: the 64-bit values stand in an extra field, in this order, for those at 0xFFFFFFFF.
    for (size_t x = p + 46 + name; x + 4 <= p + 46 + name + extra;) {
      const size_t id = le16(b, x), len = le16(b, x + 2);
      if (id == 1) {
        size_t v = x + 4;
        const size_t stop = x + 4 + len;
        if (plain == 0xFFFFFFFF && v + 8 <= stop) plain = le64(b, v), v += 8;
        if (size == 0xFFFFFFFF && v + 8 <= stop) size = le64(b, v), v += 8;
        if (local == 0xFFFFFFFF && v + 8 <= stop) local = le64(b, v);
      }
      x += 4 + len;
    }
    const std::string entry = b.substr(p + 46, name);
    if (!fits(b, local, 30) || le32(b, local) != kLocal) return "a damaged record header (" + entry + ")";
    const uint64_t data = local + 30 + le16(b, local + 26) + le16(b, local + 28);
    if (!fits(b, data, size)) return "a record cut short (" + entry + ")";
    std::string inflated;
    const char* bytes = b.data() + data;
    uint64_t length = size;
    if (method == 8) {  // deflate: LibTorch compresses its small code records
      if (plain > (uint64_t{1} << 31)) return "an implausible record size (" + entry + ")";
      inflated.resize(plain);
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return "cannot inflate " + entry;
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes));
      z.avail_in = static_cast<uInt>(size);
      z.next_out = reinterpret_cast<Bytef*>(inflated.data());
      z.avail_out = static_cast<uInt>(plain);
      const int rc = inflate(&z, Z_FINISH);
      inflateEnd(&z);
      if (rc != Z_STREAM_END || z.total_out != plain) return "a damaged compressed record (" + entry + ")";
      bytes = inflated.data();
      length = plain;
    } else if (method != 0) {
      return "a record in an unknown compression (" + entry + ")";
    }
    uLong got = ::crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < length;) {
      const uInt chunk = static_cast<uInt>(std::min<uint64_t>(length - off, uint64_t{1} << 30));
      got = ::crc32(got, reinterpret_cast<const Bytef*>(bytes + off), chunk);
      off += chunk;
    }
    if (static_cast<uint32_t>(got) != crc) return "a checksum mismatch in " + entry;
    p += 46 + name + extra + comment;
  }
  return "";
}

}  // namespace

bool all_finite(torch::nn::Module& model, torch::optim::Optimizer* optimizer, std::string* where) {
  torch::NoGradGuard no_grad;
  // One flag per tensor, read back with one transfer: on a GPU a read per tensor would wait on
  // the device hundreds of times per checkpoint.
  std::vector<torch::Tensor> flags;
  std::vector<std::string> names;
  auto add = [&](const torch::Tensor& t, const std::string& name) {
    if (!t.defined() || !t.is_floating_point()) return;
    auto flag = torch::isfinite(t).all();
    flags.push_back(flags.empty() ? flag : flag.to(flags.front().device()));
    names.push_back(name);
  };
  for (const auto& kv : model.named_parameters()) add(kv.value(), kv.key());
  for (const auto& kv : model.named_buffers()) add(kv.value(), kv.key());
  if (optimizer) {
    for (const auto& kv : optimizer->state()) {
      const auto* state = kv.second.get();
      if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(state)) {
        add(sgd->momentum_buffer(), "the optimizer's momentum");
      } else if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state)) {
        add(adamw->exp_avg(), "the optimizer's moments");
        add(adamw->exp_avg_sq(), "the optimizer's moments");
      }
    }
  }
  if (flags.empty()) return true;
  const auto ok = torch::stack(flags);
  if (ok.all().item<bool>()) return true;
  const auto first = ok.logical_not().nonzero()[0][0].item<int64_t>();
  *where = names[static_cast<size_t>(first)];
  return false;
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_bytes_atomic(path, text.data(), text.size(), "file");
}

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& s, const std::vector<torch::Tensor>& extra) {
  std::string where;
  TORCH_CHECK(all_finite(model, optimizer, &where), "not writing checkpoint ", path, " at step ", s.step, ": ", where,
              " is not finite (NaN or infinite)");
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optim_archive, extra_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    optimizer->save(optim_archive);
    archive.write("optimizer", optim_archive);
  }
  for (size_t i = 0; i < extra.size(); ++i) extra_archive.write(std::to_string(i), extra[i]);
  archive.write("extra", extra_archive);
  archive.write("extra_count", scalar(static_cast<int64_t>(extra.size())));
  archive.write("step", scalar(s.step));
  archive.write("total_steps", scalar(s.total_steps));
  archive.write("train_seconds", torch::tensor({s.train_seconds}, torch::kFloat64));
  archive.write("config", c10::IValue(s.config_yaml));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng", gen.get_state());
  }
  // Serialised in memory, then written by write_bytes_atomic: LibTorch's file writer throws
  // again from its destructor when the disk fills, which aborts the process.
  std::ostringstream bytes;
  archive.save_to(bytes);
  const auto text = bytes.str();
  write_bytes_atomic(path, text.data(), text.size(), "checkpoint");
}

namespace {
// Every tensor is mapped onto `device` as it is read: a checkpoint written on a GPU loads on a
// machine without one, and a model keeps its device (InputArchive::read would otherwise move a
// parameter to the device the tensor was saved from).
void read_archive(const std::string& path, torch::serialize::InputArchive& archive, torch::Device device) {
  TORCH_CHECK(std::filesystem::exists(path), "checkpoint ", path, " does not exist");
  TORCH_CHECK(!std::filesystem::is_directory(path), "checkpoint ", path, " is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TORCH_CHECK(in.good() || in.eof(), "cannot read checkpoint ", path);
  const auto damage = zip_damage(bytes);
  TORCH_CHECK(damage.empty(), "checkpoint ", path, " is damaged (", damage, "): not loading it");
  try {
    archive.load_from(bytes.data(), bytes.size(), device);
  } catch (const std::exception& e) {  // c10::Error, or TorchScript's ErrorReport for a damaged name
    TORCH_CHECK(false, "checkpoint ", path, " is unreadable (truncated or not a selfsup checkpoint)");
  }
}

CheckpointState read_state(const std::string& path, torch::serialize::InputArchive& archive) {
  CheckpointState s;
  try {
    // A fresh tensor per read: InputArchive::read into a defined tensor calls set_(), which
    // reinterprets the stored bytes in the old dtype (a float64 read as int64 bits).
    auto read = [&](const char* key) {
      torch::Tensor t;
      archive.read(key, t);
      return t;
    };
    s.step = read("step").item<int64_t>();
    s.total_steps = read("total_steps").item<int64_t>();
    s.train_seconds = read("train_seconds").item<double>();
    c10::IValue cfg;
    archive.read("config", cfg);
    s.config_yaml = cfg.toStringRef();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "checkpoint ", path, " lacks its counters or config (not a selfsup checkpoint?)");
  }
  return s;
}

torch::Device device_of(const torch::nn::Module& model) {
  for (const auto& p : model.parameters()) return p.device();
  for (const auto& b : model.buffers()) return b.device();
  return torch::kCPU;
}
}  // namespace

CheckpointState peek_checkpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  read_archive(path, archive, torch::kCPU);
  return read_state(path, archive);
}

CheckpointState load_checkpoint(const std::string& path, torch::nn::Module& model,
                                torch::optim::Optimizer* optimizer, std::vector<torch::Tensor>* extra) {
  torch::serialize::InputArchive archive;
  read_archive(path, archive, device_of(model));
  auto s = read_state(path, archive);
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model.load(model_archive);
    if (optimizer) {
      torch::serialize::InputArchive optim_archive;
      archive.read("optimizer", optim_archive);
      optimizer->load(optim_archive);
    }
    if (extra) {
      torch::Tensor count;
      archive.read("extra_count", count);
      TORCH_CHECK(count.item<int64_t>() == static_cast<int64_t>(extra->size()), "expected ", extra->size(),
                  " extra tensors, found ", count.item<int64_t>());
      torch::serialize::InputArchive extra_archive;
      archive.read("extra", extra_archive);
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < extra->size(); ++i) {
        torch::Tensor t;
        extra_archive.read(std::to_string(i), t);
        (*extra)[i].copy_(t);
      }
    }
    torch::Tensor rng;
    archive.read("rng", rng);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "checkpoint ", path, " does not match this model: ", e.msg());
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "checkpoint ", path, " is unreadable (a damaged record)");
  }
  return s;
}

}  // namespace selfsup::train
