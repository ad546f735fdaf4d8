#include "selfsup/text/corpus.h"

#include <c10/util/Exception.h>

#include "selfsup/data/io.h"

namespace selfsup::text {
namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

/// The file's lines, each checked for UTF-8; `visit(line, number)` gets every line, untrimmed
/// but without its "\r\n" or "\n".
template <typename Visit>
void for_each_line(const std::string& path, Visit visit) {
  data::FileReader reader(path);
  const auto bytes = reader.read_all();
  const std::string text(bytes.begin(), bytes.end());
  size_t start = 0;
  int64_t number = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++number;
    if (const auto bad = invalid_utf8_at(line)) {
      static const char* kHex = "0123456789ABCDEF";
      const auto b = static_cast<unsigned char>(line[*bad]);
      TORCH_CHECK(false, path, ": line ", number, " is not valid UTF-8 (byte ", *bad + 1, " of the line, 0x",
                  kHex[b >> 4], kHex[b & 15], ")");
    }
    visit(line, number);
    start = end + 1;
  }
}

}  // namespace

std::optional<size_t> invalid_utf8_at(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;  // a continuation byte without a lead, or 0xF8..0xFF
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::nullopt;
}

std::vector<std::string> read_sentences(const std::string& path) {
  std::vector<std::string> out;
  for_each_line(path, [&](const std::string& line, int64_t) {
    auto t = trim(line);
    if (!t.empty()) out.push_back(std::move(t));
  });
  TORCH_CHECK(!out.empty(), path, ": no sentence (the corpus is empty or only blank lines)");
  return out;
}

SentencePairs read_pairs(const std::string& path) {
  SentencePairs out;
  int64_t columns = 0;
  for_each_line(path, [&](const std::string& line, int64_t number) {
    if (trim(line).empty()) return;
    std::vector<std::string> fields;
    size_t start = 0;
    while (true) {
      const auto tab = line.find('\t', start);
      fields.push_back(trim(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start)));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    const auto got = static_cast<int64_t>(fields.size());
    if (columns == 0) {
      TORCH_CHECK(got == 2 || got == 3, path, ": line ", number, " has ", got, " tab-separated column",
                  got == 1 ? "" : "s", "; expected sentence, positive and optionally a hard negative");
      columns = got;
    }
    TORCH_CHECK(got == columns, path, ": line ", number, " has ", got, " columns, the first line ", columns,
                " (sentence, positive", columns == 3 ? ", hard negative)" : ")");
    for (int64_t k = 0; k < got; ++k) {
      TORCH_CHECK(!fields[k].empty(), path, ": line ", number, ", column ", k + 1, " is empty");
    }
    out.sentences.push_back(fields[0]);
    out.positives.push_back(fields[1]);
    if (columns == 3) out.hard_negatives.push_back(fields[2]);
  });
  TORCH_CHECK(!out.sentences.empty(), path, ": no sentence pair (the file is empty or only blank lines)");
  return out;
}

}  // namespace selfsup::text
