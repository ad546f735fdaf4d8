#pragma once
// The readers under test take paths, as the command does: each input is written to a file of its
// own in /dev/shm (memory, so a run of millions of inputs does not wear a disk) and read back.
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <c10/util/Exception.h>

namespace selfsup::fuzz {

inline std::string scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string d = std::string(base) + "/selfsup_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

/// A reader may refuse an input with c10::Error or another std::exception (the command turns it
/// into one error line); anything else (a crash, a sanitizer report, a hang) is a finding.
template <typename F>
void expect_clean(F&& read) {
  try {
    read();
  } catch (const std::exception&) {
  }
}

}  // namespace selfsup::fuzz
