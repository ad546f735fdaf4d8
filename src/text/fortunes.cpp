#include "selfsup/text/fortunes.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "selfsup/text/corpus.h"

namespace selfsup::text {
namespace fs = std::filesystem;
namespace {

/// Lines and whitespace runs joined by single spaces, ends trimmed.
std::string squeeze(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      out += c;
      space = false;
    }
  }
  return out;
}

}  // namespace

std::vector<Fortune> read_fortunes(const std::string& dir, size_t max_chars) {
  std::error_code ec;
  TORCH_CHECK(fs::is_directory(dir, ec), "fortunes: ", dir, " is not a folder (Debian's `fortunes` package installs "
              "/usr/share/games/fortunes)");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_symlink() || !e.is_regular_file() || e.path().has_extension()) continue;
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Fortune> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string line, entry;
    auto flush = [&] {
      auto t = squeeze(entry);
      entry.clear();
      if (t.empty() || t.size() > max_chars || invalid_utf8_at(t)) return;
      out.push_back({f.filename().string(), std::move(t)});
    };
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line == "%") {
        flush();
      } else {
        entry += line + "\n";
      }
    }
    flush();
  }
  TORCH_CHECK(!out.empty(), "fortunes: no entry in ", dir);
  return out;
}

}  // namespace selfsup::text
