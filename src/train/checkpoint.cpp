#include "selfsup/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace selfsup::train {
namespace {

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void commit(const std::string& tmp, const std::string& path) {
  fsync_path(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    TORCH_CHECK(false, "cannot rename ", tmp, " to ", path, ": ", std::strerror(errno));
  }
  fsync_path(std::filesystem::path(path).parent_path().string().empty()
                 ? "."
                 : std::filesystem::path(path).parent_path().string());
}

std::string tmp_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

torch::Tensor scalar(int64_t v) { return torch::tensor({v}, torch::kLong); }

}  // namespace

void write_file_atomic(const std::string& path, const std::string& text) {
  const auto tmp = tmp_name(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TORCH_CHECK(out.good(), "cannot write ", tmp);
    out << text;
    out.flush();
    TORCH_CHECK(out.good(), "error while writing ", tmp);
  }
  commit(tmp, path);
}

void save_checkpoint(const std::string& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointState& s, const std::vector<torch::Tensor>& extra) {
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
  const auto tmp = tmp_name(path);
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    TORCH_CHECK(false, "cannot write checkpoint ", tmp, ": ", e.msg());
  }
  commit(tmp, path);
}

namespace {
// Every tensor is mapped onto `device` as it is read: a checkpoint written on a GPU loads on a
// machine without one, and a model keeps its device (InputArchive::read would otherwise move a
// parameter to the device the tensor was saved from).
void read_archive(const std::string& path, torch::serialize::InputArchive& archive, torch::Device device) {
  TORCH_CHECK(std::filesystem::exists(path), "checkpoint ", path, " does not exist");
  try {
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
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
  } catch (const c10::Error& e) {
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
  }
  return s;
}

}  // namespace selfsup::train
