#include "selfsup/run/text.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <numeric>

#include "common.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/npy.h"
#include "selfsup/dist/dist.h"
#include "selfsup/methods/text.h"
#include "selfsup/text/baselines.h"
#include "selfsup/text/corpus.h"
#include "selfsup/text/evaluate.h"
#include "selfsup/text/fortunes.h"
#include "selfsup/text/wordnet.h"
#include "selfsup/train/text_loader.h"

namespace selfsup::run {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

methods::DataSpec text_spec(const text::Tokenizer& tok, uint64_t seed) {
  methods::DataSpec spec{0, 0, 0, 0, 0, seed};
  spec.vocab_size = tok.vocab_size();
  spec.mask_token = tok.mask_id();
  return spec;
}

/// An encoder and its tokenizer, ready to embed sentences.
struct TextModel {
  Config cfg;
  torch::Device device{torch::kCPU};
  std::shared_ptr<text::Tokenizer> tokenizer;
  methods::TextMethod method;
  std::string name;
};

/// Embeddings [N, dim] (float32, CPU) of sentences, in eval mode, in batches of similar length
/// (less padding to compute).
torch::Tensor embed_all(const TextModel& m, const std::vector<std::string>& sentences) {
  torch::NoGradGuard no_grad;
  const bool was_training = m.method->is_training();
  m.method->eval();
  const auto rows = m.tokenizer->encode_framed(sentences, m.method->text_encoder->options.max_length());
  std::vector<int64_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rows[a].size() < rows[b].size(); });
  auto out = torch::zeros({static_cast<int64_t>(rows.size()), m.method->text_encoder->feature_dim()});
  constexpr size_t kBatch = 256;
  for (size_t from = 0; from < order.size(); from += kBatch) {
    const auto to = std::min(order.size(), from + kBatch);
    std::vector<std::vector<int64_t>> part;
    for (size_t i = from; i < to; ++i) part.push_back(rows[static_cast<size_t>(order[i])]);
    const auto b = text::pad_batch(part);
    const auto e = m.method->embed(b.ids.to(m.device), b.mask.to(m.device)).to(torch::kCPU).to(torch::kFloat32);
    out.index_copy_(0, torch::tensor(std::vector<int64_t>(order.begin() + static_cast<std::ptrdiff_t>(from),
                                                          order.begin() + static_cast<std::ptrdiff_t>(to))),
                    e);
  }
  m.method->train(was_training);
  return out;
}

void check_text_kind(const Config& cfg, const std::string& where) {
  const auto name = cfg.get<std::string>("method.name", "");
  const auto kind = methods::Registry::instance().get(name).kind;
  TORCH_CHECK(kind == methods::Kind::kTextEmbedding, where, " holds a ", methods::kind_name(kind), " method ('", name,
              "'), not a text encoder");
}

/// A text run's method, rebuilt from its checkpoint's config and its folder's tokenizer.
TextModel load_text_run(const std::string& path, int threads, const std::string& device) {
  const auto checkpoint = train::RunDir::checkpoint_of(path);
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  check_text_kind(cfg, checkpoint);
  if (threads > 0) cfg.set("train.threads", YAML::Node(threads));
  if (!device.empty()) cfg.set("device", YAML::Node(device));
  const auto c = detail::setup_process(cfg);
  const auto tok_path = train::RunDir::tokenizer_of(checkpoint);
  TORCH_CHECK(fs::is_regular_file(tok_path), checkpoint, ": its run folder has no ", fs::path(tok_path).filename().string());
  TextModel m{cfg, c.device, std::make_shared<text::Tokenizer>(tok_path), nullptr, cfg.get<std::string>("method.name", "")};
  m.method = methods::make_text_method(cfg, text_spec(*m.tokenizer, c.seed));
  m.method->to(c.device);
  train::load_checkpoint(checkpoint, *m.method, nullptr);
  m.method->eval();
  return m;
}

/// Token lists <s> ... </s> of every sentence.
std::vector<std::vector<int64_t>> tokenized(const text::Tokenizer& tok, const std::vector<std::string>& sentences,
                                            int64_t max_length) {
  return tok.encode_framed(sentences, max_length);
}

/// The encoder of a text run copied into `target`'s: same tokenizer, same shapes.
void init_text_encoder(const std::string& init, const text::Tokenizer& tok, methods::TextMethodImpl& target) {
  const auto checkpoint = train::RunDir::checkpoint_of(init);
  const std::string what = "--init " + init;
  const auto tok_path = train::RunDir::tokenizer_of(checkpoint);
  TORCH_CHECK(fs::is_regular_file(tok_path), what, ": not a text run (its folder has no tokenizer.model)");
  TORCH_CHECK(text::Tokenizer(tok_path).serialized() == tok.serialized(), what,
              " was trained with another tokenizer than data.tokenizer: its token ids mean other pieces");
  auto state = train::peek_checkpoint(checkpoint);
  auto cfg = Config::parse(state.config_yaml, checkpoint);
  check_text_kind(cfg, what);
  auto source = methods::make_text_method(cfg, text_spec(tok, 0));
  train::load_checkpoint(checkpoint, *source, nullptr);
  torch::NoGradGuard no_grad;
  const auto from = source->text_encoder->named_parameters();
  auto to = target.text_encoder->named_parameters();
  TORCH_CHECK(from.size() == to.size(), what, ": its encoder has ", from.size(), " parameter tensors, this one ",
              to.size(), " (model.depth differs)");
  for (auto& p : to) {
    const auto* src = from.find(p.key());
    TORCH_CHECK(src, what, ": its encoder has no ", p.key());
    TORCH_CHECK(src->sizes() == p.value().sizes(), what, ": ", p.key(), " is ", src->sizes(), " there and ",
                p.value().sizes(), " here (model.dim or model.max_length differ)");
    p.value().copy_(*src);
  }
}

text::TextEvalOptions eval_options(const Config& cfg, uint64_t seed) {
  const text::TextEvalOptions d;
  return text::TextEvalOptions()
      .knn_k(cfg.get<int64_t>("eval.knn_k", d.knn_k()))
      .knn_temperature(cfg.get<double>("eval.knn_temperature", d.knn_temperature()))
      .seed(seed);
}

}  // namespace

nlohmann::json text_tokenizer(const TextTokenizerOptions& o) {
  TORCH_CHECK(!o.corpus.empty(), "text tokenizer: give at least one --corpus file");
  TORCH_CHECK(!o.out.empty(), "text tokenizer: --out names the .model file to write");
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> sentences;
  for (const auto& f : o.corpus) {
    auto s = text::read_sentences(f);
    sentences.insert(sentences.end(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
  }
  text::train_tokenizer(sentences, o.out, o.train);
  const text::Tokenizer tok(o.out);
  return {{"out", o.out}, {"vocab_size", tok.vocab_size()}, {"model_type", o.train.model_type()},
          {"sentences", sentences.size()}, {"seconds", seconds_since(start)}};
}

nlohmann::json text_corpus(const TextCorpusOptions& o) {
  TORCH_CHECK(!o.out.empty(), "text corpus: --out names the folder to write");
  const auto start = std::chrono::steady_clock::now();
  const auto wn = text::WordNet::read(o.wordnet);
  const auto fortunes = text::read_fortunes(o.fortunes);
  auto j = text::build_default_corpus(wn, fortunes, o.out, o.corpus);
  j["out"] = o.out;
  j["seconds"] = seconds_since(start);
  return j;
}

nlohmann::json text_train(Config cfg, const RunOptions& ro, const std::string& init) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  cfg = detail::config_of_run(dir, std::move(cfg), {methods::Kind::kTextEmbedding}, "text train");
  detail::join_ranks(cfg);
  auto c = detail::setup_process(cfg);
  const auto tok_key = cfg.require<std::string>("data.tokenizer");
  // A resumed run reads the copy it keeps: the file the config names may have changed since.
  const text::Tokenizer tok(ro.resume ? dir.tokenizer_path() : tok_key);

  seed_everything(derive_seed(c.seed, "init"));
  auto method = methods::make_text_method(cfg, text_spec(tok, c.seed));
  method->to(c.device);
  if (!init.empty() && !ro.resume) init_text_encoder(init, tok, *method);
  const auto max_length = method->text_encoder->options.max_length();

  const auto train_file = cfg.get<std::string>("data.train", ""), pairs_file = cfg.get<std::string>("data.pairs", "");
  std::vector<std::vector<std::vector<int64_t>>> texts;
  int64_t rows = 0;
  if (method->num_texts() == 3) {
    TORCH_CHECK(!pairs_file.empty() && train_file.empty(), cfg.get<std::string>("method.name", ""),
                " trains on sentence pairs with hard negatives: set data.pairs (a TSV), not data.train");
    const auto p = text::read_pairs(pairs_file);
    TORCH_CHECK(!p.hard_negatives.empty(), pairs_file, ": ", cfg.get<std::string>("method.name", ""),
                " needs a third column, the hard negative");
    texts = {tokenized(tok, p.sentences, max_length), tokenized(tok, p.positives, max_length),
             tokenized(tok, p.hard_negatives, max_length)};
    rows = static_cast<int64_t>(p.sentences.size());
  } else {
    TORCH_CHECK(!train_file.empty() && pairs_file.empty(), cfg.get<std::string>("method.name", ""),
                " trains on sentences: set data.train (one sentence a line), not data.pairs");
    const auto s = text::read_sentences(train_file);
    texts = {tokenized(tok, s, max_length)};
    rows = static_cast<int64_t>(s.size());
  }
  const auto eval_dir = cfg.get<std::string>("data.eval", "");
  const auto eval_opts = eval_options(cfg, c.seed);
  // Refuse a missing or malformed evaluation folder before the training, not after it.
  std::vector<text::EvalSets> sets;
  if (!eval_dir.empty() && ro.evaluate) sets = {text::read_eval_sets(eval_dir, "val"), text::read_eval_sets(eval_dir, "test")};

  train::TextLoader loader(std::move(texts),
                           train::LoaderOptions()
                               .batch_size(cfg.get<int64_t>("train.batch_size", 64))
                               .seed(derive_seed(c.seed, "loader"))
                               .rank(dist::rank())
                               .world_size(dist::world_size()),
                           c.device);
  train::Trainer trainer(cfg, method, loader, detail::trainer_options(cfg, ro), dir);
  cfg.check_all_used();

  dir.start(cfg);
  if (!ro.resume) dir.write_tokenizer(tok.serialized());
  if (dist::is_main() && !ro.quiet) {
    const auto& e = method->text_encoder->options;
    std::cerr << e.depth() << "-block Transformer of width " << e.dim() << ", " << tok.vocab_size() << " pieces, " << rows
              << (method->num_texts() == 3 ? " sentence pairs" : " sentences") << (init.empty() ? "" : ", from " + init)
              << "\n";
  }
  const auto result = trainer.fit();
  auto s = detail::train_summary(cfg, c, result);
  s["dataset"] = method->num_texts() == 3 ? pairs_file : train_file;
  s["rows"] = rows;
  s["vocab_size"] = tok.vocab_size();
  s["init"] = init;
  if (!ro.summary_extra.is_null()) s.update(ro.summary_extra);
  if (!sets.empty()) {
    s.update(detail::evaluated(dir, [&] {
      const TextModel m{cfg, c.device, std::make_shared<text::Tokenizer>(dir.tokenizer_path()), method, ""};
      const auto embed = [&](const std::vector<std::string>& x) { return embed_all(m, x); };
      nlohmann::json j = {{"val", text::evaluate(embed, sets[0], eval_opts)},
                          {"test", text::evaluate(embed, sets[1], eval_opts)}};
      if (dist::is_main() && !ro.quiet) {
        const auto& t = j["test"];
        std::cerr << "test: gloss Spearman " << t["sts_spearman"].get<double>() << ", retrieval MRR "
                  << t["retrieval_mrr"].get<double>() << ", fortune kNN " << t["knn_acc"].get<double>() << ", linear "
                  << t["linear_acc"].get<double>() << "\n";
      }
      return j;
    }));
  }
  dir.write_summary(s);
  return s;
}

nlohmann::json text_embed(const TextEmbedOptions& o) {
  TORCH_CHECK(!o.out.empty(), "text embed: --out names the .npy file to write");
  const auto m = load_text_run(o.checkpoint, o.threads, o.device);
  const auto sentences = text::read_sentences(o.in);
  const auto start = std::chrono::steady_clock::now();
  const auto e = embed_all(m, sentences);
  train::write_file_atomic(o.out, data::npy_bytes(e));
  return {{"in", o.in}, {"out", o.out}, {"sentences", sentences.size()}, {"dim", e.size(1)}, {"method", m.name},
          {"seconds", seconds_since(start)}};
}

nlohmann::json text_similar(const TextSimilarOptions& o) {
  TORCH_CHECK(o.k >= 1, "text similar: -k must be at least 1, got ", o.k);
  TORCH_CHECK(!o.queries.empty(), "text similar: give at least one --query");
  const auto m = load_text_run(o.checkpoint, o.threads, o.device);
  const auto index = text::read_sentences(o.index);
  for (const auto& q : o.queries) {
    const auto bad = text::invalid_utf8_at(q);
    TORCH_CHECK(!bad, "text similar: the query '", q, "' is not valid UTF-8 (byte ", bad.value_or(0), ")");
  }
  namespace F = torch::nn::functional;
  const auto norm = F::NormalizeFuncOptions().dim(1);
  const auto sim = F::normalize(embed_all(m, o.queries), norm).matmul(F::normalize(embed_all(m, index), norm).t());
  const auto k = std::min<int64_t>(o.k, static_cast<int64_t>(index.size()));
  const auto [values, indices] = sim.topk(k, 1);
  nlohmann::json out = nlohmann::json::array();
  for (size_t q = 0; q < o.queries.size(); ++q) {
    nlohmann::json hits = nlohmann::json::array();
    for (int64_t r = 0; r < k; ++r) {
      const auto i = indices[static_cast<int64_t>(q)][r].item<int64_t>();
      hits.push_back({{"rank", r + 1}, {"sentence", index[static_cast<size_t>(i)]}, {"index", i},
                      {"cosine", values[static_cast<int64_t>(q)][r].item<double>()}});
    }
    out.push_back({{"query", o.queries[q]}, {"hits", hits}});
  }
  return out;
}

nlohmann::json text_eval(const TextEvalOptions& o) {
  TORCH_CHECK(!o.checkpoints.empty() || !o.baselines.empty(), "text eval: give at least one --checkpoint or --baseline");
  for (const auto& b : o.baselines) {
    TORCH_CHECK(b == "tfidf" || b == "fasttext" || b == "untrained", "text eval: unknown baseline '", b,
                "' (expected tfidf, fasttext or untrained)");
  }
  std::vector<TextModel> models;
  for (const auto& p : o.checkpoints) models.push_back(load_text_run(p, o.threads, o.device));
  TORCH_CHECK(!o.config.empty() || !models.empty(), "text eval: --baseline alone needs --config (its data.train, "
              "data.tokenizer and data.eval)");
  Config cfg = o.config.empty() ? models.front().cfg : Config::load(o.config);
  if (models.empty()) init_runtime(detail::configured_threads(cfg, o.threads));
  const auto corpus = o.corpus.empty() ? cfg.get<std::string>("data.eval", "") : o.corpus;
  TORCH_CHECK(!corpus.empty(), "text eval: no evaluation folder (--corpus, or data.eval in the config)");
  const auto sets = text::read_eval_sets(corpus, o.split);
  const auto seed = cfg.get<uint64_t>("seed", 0);
  const auto opts = eval_options(cfg, seed);

  nlohmann::json j = {{"split", o.split}, {"corpus", corpus}, {"methods", nlohmann::json::object()}};
  auto add = [&](std::string name, const text::Embed& embed, nlohmann::json extra) {
    auto r = text::evaluate(embed, sets, opts);
    if (!extra.is_null()) r.update(extra);
    while (j["methods"].contains(name)) name += "'";
    j["methods"][name] = r;
  };
  for (size_t i = 0; i < models.size(); ++i) {
    add(models[i].name, [&](const std::vector<std::string>& x) { return embed_all(models[i], x); },
        {{"checkpoint", o.checkpoints[i]}});
  }
  std::vector<std::string> training;
  auto training_sentences = [&]() -> const std::vector<std::string>& {
    if (training.empty()) training = text::read_sentences(cfg.require<std::string>("data.train"));
    return training;
  };
  for (const auto& b : o.baselines) {
    const auto start = std::chrono::steady_clock::now();
    if (b == "tfidf") {
      const text::TfIdf tfidf(training_sentences());
      add("tfidf", [&](const std::vector<std::string>& x) { return tfidf.embed(x); },
          {{"vocabulary", tfidf.vocabulary_size()}, {"fit_seconds", seconds_since(start)}});
    } else if (b == "fasttext") {
      const auto work = o.work_dir.empty() ? (fs::temp_directory_path() / ("selfsup-fasttext-" + std::to_string(::getpid()))).string()
                                           : o.work_dir;
      const text::FastText ft(training_sentences(), work,
                              text::FastTextOptions().threads(std::max(1, at::get_num_threads())).seed(seed));
      add("fasttext", [&](const std::vector<std::string>& x) { return ft.embed(x); },
          {{"fit_seconds", seconds_since(start)}});
      if (o.work_dir.empty()) fs::remove_all(work);
    } else {
      check_text_kind(cfg, cfg.source());
      const auto c = detail::setup_process(cfg);
      TextModel m{cfg, c.device, std::make_shared<text::Tokenizer>(cfg.require<std::string>("data.tokenizer")), nullptr,
                  "untrained"};
      seed_everything(derive_seed(c.seed, "init"));
      m.method = methods::make_text_method(cfg, text_spec(*m.tokenizer, c.seed));
      m.method->to(c.device);
      add("untrained", [&](const std::vector<std::string>& x) { return embed_all(m, x); }, {});
    }
  }
  return j;
}

}  // namespace selfsup::run
