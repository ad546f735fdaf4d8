#pragma once
// The fortune files of Debian's `fortunes` package (/usr/share/games/fortunes): one file per
// category, entries separated by lines holding only "%". They give the default corpus sentences
// of another register than WordNet's glosses, and a labeled task (which file an entry came from)
// for the kNN and linear probes of the text evaluation.
#include <string>
#include <vector>

namespace selfsup::text {

struct Fortune {
  std::string category;  // the file's name
  std::string text;      // the entry, its lines and runs of spaces joined by one space
};

/// Every entry of every category file in `dir` (files with an extension, such as the .dat
/// indexes, and links are skipped), categories in name order, entries in file order; entries
/// longer than `max_chars` characters (bytes) are left out, as are invalid UTF-8 ones. Throws
/// naming the folder when it holds no entry.
std::vector<Fortune> read_fortunes(const std::string& dir, size_t max_chars = 400);

}  // namespace selfsup::text
