#include "selfsup/text/tokenizer.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "program.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::text {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPackage = "sentencepiece";

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& l : lines) {
    for (char c : l) out << (c == '\n' || c == '\r' ? ' ' : c);
    out << '\n';
  }
  TORCH_CHECK(out.good(), "tokenizer: cannot write ", path);
}

std::vector<std::string> read_all_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

void train_tokenizer(const std::vector<std::string>& sentences, const std::string& model_path,
                     const TokenizerTrainOptions& o) {
  TORCH_CHECK(!sentences.empty(), "text tokenizer: no sentence to train on");
  TORCH_CHECK(o.vocab_size() >= 16, "text tokenizer: vocab_size must be >= 16, got ", o.vocab_size());
  TORCH_CHECK(o.model_type() == "unigram" || o.model_type() == "bpe",
              "text tokenizer: model_type must be unigram or bpe, got '", o.model_type(), "'");
  TORCH_CHECK(o.character_coverage() > 0 && o.character_coverage() <= 1,
              "text tokenizer: character_coverage must be in (0, 1], got ", o.character_coverage());
  // spm_train writes <prefix>.model and <prefix>.vocab: both in a private folder, the model then
  // written into place atomically.
  detail::TempDir work("spm-train");
  write_lines(work.file("corpus.txt"), sentences);
  std::ostringstream coverage;
  coverage << o.character_coverage();
  try {
    detail::run_program({"spm_train", "--input=" + work.file("corpus.txt"), "--model_prefix=" + work.file("m"),
                         "--vocab_size=" + std::to_string(o.vocab_size()), "--model_type=" + o.model_type(),
                         "--character_coverage=" + coverage.str(), "--pad_id=0", "--unk_id=1", "--bos_id=2",
                         "--eos_id=3", "--user_defined_symbols=[MASK]", "--input_sentence_size=0",
                         "--shuffle_input_sentence=false", "--num_threads=1"},
                        "text tokenizer", kPackage);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "text tokenizer: SentencePiece could not train on ", sentences.size(),
                " sentences with vocab_size ", o.vocab_size(), " (a smaller vocab_size fits a small corpus): ", e.msg());
  }
  std::ifstream in(work.file("m.model"), std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  train::write_file_atomic(model_path, bytes.str());
}

struct Tokenizer::Files {
  detail::TempDir dir{"tokenizer"};
  std::string model() const { return dir.file("m.model"); }
};

Tokenizer::Tokenizer(const std::string& model_path) : files_(std::make_unique<Files>()) {
  std::ifstream in(model_path, std::ios::binary);
  TORCH_CHECK(in.good(), "tokenizer: cannot read ", model_path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  serialized_ = bytes.str();
  train::write_file_atomic(files_->model(), serialized_);
  const auto vocab = files_->dir.file("vocab.txt");
  try {
    detail::run_program({"spm_export_vocab", "--model=" + files_->model(), "--output=" + vocab}, "tokenizer", kPackage);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "tokenizer: ", model_path, " is not a SentencePiece model (", e.msg(), ")");
  }
  std::vector<std::string> pieces;
  for (const auto& line : read_all_lines(vocab)) pieces.push_back(line.substr(0, line.find('\t')));
  TORCH_CHECK(pieces.size() >= 5, "tokenizer: ", model_path, " is not a SentencePiece model (", pieces.size(), " pieces)");
  TORCH_CHECK(pieces[kPad] == "<pad>" && pieces[kUnk] == "<unk>" && pieces[kBos] == "<s>" && pieces[kEos] == "</s>",
              "tokenizer: ", model_path, " numbers its special pieces otherwise (ids 0-3 are '", pieces[0], "', '",
              pieces[1], "', '", pieces[2], "', '", pieces[3], "'; expected <pad>, <unk>, <s>, </s>: train it with "
              "`selfsup text tokenizer`, or with spm_train --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3)");
  vocab_size_ = static_cast<int64_t>(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i] == "[MASK]") mask_id_ = static_cast<int64_t>(i);
  }
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<std::vector<int64_t>> Tokenizer::encode_all(const std::vector<std::string>& sentences) const {
  if (sentences.empty()) return {};
  detail::TempDir work("spm-encode");
  write_lines(work.file("in.txt"), sentences);
  detail::run_program({"spm_encode", "--model=" + files_->model(), "--output_format=id", "--input=" + work.file("in.txt"),
                       "--output=" + work.file("out.txt")},
                      "tokenizer", kPackage);
  const auto lines = read_all_lines(work.file("out.txt"));
  TORCH_CHECK(lines.size() == sentences.size(), "tokenizer: spm_encode returned ", lines.size(), " lines for ",
              sentences.size(), " sentences");
  std::vector<std::vector<int64_t>> out(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream ids(lines[i]);
    int64_t id = 0;
    while (ids >> id) {
      TORCH_CHECK(id >= 0 && id < vocab_size_, "tokenizer: spm_encode returned id ", id, " outside the vocabulary");
      out[i].push_back(id);
    }
  }
  return out;
}

std::vector<int64_t> Tokenizer::encode(const std::string& sentence) const { return encode_all({sentence}).front(); }

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  detail::TempDir work("spm-decode");
  std::ostringstream line;
  for (size_t i = 0; i < ids.size(); ++i) line << (i ? " " : "") << ids[i];
  write_lines(work.file("in.txt"), {line.str()});
  detail::run_program({"spm_decode", "--model=" + files_->model(), "--input_format=id", "--input=" + work.file("in.txt"),
                       "--output=" + work.file("out.txt")},
                      "tokenizer", kPackage);
  const auto lines = read_all_lines(work.file("out.txt"));
  return lines.empty() ? std::string() : lines.front();
}

std::vector<std::vector<int64_t>> Tokenizer::encode_framed(const std::vector<std::string>& sentences,
                                                           int64_t max_length) const {
  TORCH_CHECK(max_length >= 2, "tokenizer: max_length must be >= 2 (<s> and </s>), got ", max_length);
  auto out = encode_all(sentences);
  for (auto& r : out) {
    if (static_cast<int64_t>(r.size()) > max_length - 2) r.resize(static_cast<size_t>(max_length - 2));
    r.insert(r.begin(), kBos);
    r.push_back(kEos);
  }
  return out;
}

TokenBatch pad_batch(const std::vector<std::vector<int64_t>>& rows) {
  int64_t longest = 0;
  for (const auto& r : rows) longest = std::max<int64_t>(longest, static_cast<int64_t>(r.size()));
  auto ids = torch::full({static_cast<int64_t>(rows.size()), longest}, Tokenizer::kPad, torch::kLong);
  auto mask = torch::zeros({static_cast<int64_t>(rows.size()), longest}, torch::kBool);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<bool, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ia[i][j] = rows[i][j];
      ma[i][j] = true;
    }
  }
  return {ids, mask};
}

TokenBatch Tokenizer::encode_batch(const std::vector<std::string>& sentences, int64_t max_length) const {
  return pad_batch(encode_framed(sentences, max_length));
}

int64_t Tokenizer::vocab_size() const { return vocab_size_; }

}  // namespace selfsup::text
