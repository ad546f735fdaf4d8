#pragma once
// Text a user brings: a UTF-8 file with one sentence a line, or a tab-separated file of sentence
// pairs (sentence, positive[, hard negative]) for supervised SimCSE. Every refusal is one error
// naming the file and, where it applies, the line and byte.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace selfsup::text {

/// The byte offset of the first byte that does not belong to a well-formed UTF-8 sequence
/// (overlong forms, surrogates and code points above U+10FFFF are ill-formed), or nullopt.
std::optional<size_t> invalid_utf8_at(const std::string& s);

/// The lines of a UTF-8 text file (raw or gzip), "\r\n" read as "\n", surrounding spaces and tabs
/// trimmed, empty lines dropped. Throws on a missing file, invalid UTF-8 (naming the line and the
/// byte within it), or a file with no sentence.
std::vector<std::string> read_sentences(const std::string& path);

struct SentencePairs {
  std::vector<std::string> sentences, positives;
  std::vector<std::string> hard_negatives;  // empty, or one per pair
};

/// A tab-separated file: two columns (sentence, positive) or three (..., hard negative) on every
/// line, the first line deciding which. Throws naming the line on a missing or extra column or an
/// empty field, and as read_sentences on invalid UTF-8 or no pairs.
SentencePairs read_pairs(const std::string& path);

}  // namespace selfsup::text
