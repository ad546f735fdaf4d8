// selfsup text tokenizer | corpus | train | embed | similar | eval
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/core/progress.h"
#include "selfsup/dist/dist.h"
#include "selfsup/run/text.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/run_dir.h"

namespace selfsup::cli {
void register_text(CLI::App& app) {
  auto* tx = app.add_subcommand("text", "sentence embeddings from unlabeled text (mlm, simcse, consert; simcse_sup "
                                        "from pairs)");
  tx->require_subcommand(1);

  static run::TextTokenizerOptions tok;
  static int64_t vocab_size = text::TokenizerTrainOptions().vocab_size();
  static std::string model_type = text::TokenizerTrainOptions().model_type();
  auto* t = tx->add_subcommand("tokenizer", "train a SentencePiece tokenizer on sentence files");
  t->add_option("--corpus", tok.corpus, "a UTF-8 file, one sentence a line (repeatable)")->required();
  t->add_option("--out", tok.out, "the .model file to write")->required();
  t->add_option("--vocab-size", vocab_size, "pieces in the vocabulary, the special ones included")->check(CLI::PositiveNumber);
  t->add_option("--model-type", model_type, "unigram or bpe")->check(CLI::IsMember({"unigram", "bpe"}));
  t->callback([] {
    tok.train.vocab_size(vocab_size).model_type(model_type);
    std::cout << run::text_tokenizer(tok).dump(2) << std::endl;
  });

  static run::TextCorpusOptions corpus;
  static int64_t corpus_seed = 0;
  auto* c = tx->add_subcommand("corpus", "write the default corpus (WordNet glosses and examples, the fortunes) "
                                         "and its evaluation sets, split by seed");
  c->add_option("--out", corpus.out, "the folder to write")->required();
  c->add_option("--seed", corpus_seed, "the split's seed")->check(not_negative());
  c->add_option("--wordnet", corpus.wordnet, "WordNet's data.noun");
  c->add_option("--fortunes", corpus.fortunes, "the folder of fortune files");
  c->callback([] {
    corpus.corpus.seed = static_cast<uint64_t>(corpus_seed);
    std::cout << run::text_corpus(corpus).dump(2) << std::endl;
  });

  static RunFlags train_flags;
  static std::string init;
  auto* tr = tx->add_subcommand("train", "train a sentence encoder, then score it on data.eval's val and test sets");
  add_run_flags(tr, train_flags);
  tr->add_option("--init", init, "start the encoder from a text run (its folder or checkpoint; same tokenizer)");
  tr->callback([] {
    const auto ro = start_run(train_flags, "text train");
    auto summary = run::text_train(train_flags.resume ? Config() : resolve_config(train_flags), ro,
                                   init.empty() ? init : train::RunDir::checkpoint_of(init));
    if (dist::is_main()) std::cout << summary.dump(2) << std::endl;
  });

  static run::TextEmbedOptions em;
  auto* e = tx->add_subcommand("embed", "embed every line of a file with a trained encoder (.npy float32 [N, dim])");
  e->add_option("--checkpoint", em.checkpoint, "a text run (its folder, or its checkpoint file)")->required();
  e->add_option("--in", em.in, "sentences, one a line (blank lines skipped)")->required();
  e->add_option("--out", em.out, "the .npy file to write")->required();
  e->add_option("--threads", em.threads, "intra-op threads (default: all cores)");
  e->add_option("--device", em.device, "cpu, cuda or cuda:N (default: the device it was trained on)");
  e->callback([] { std::cout << run::text_embed(em).dump(2) << std::endl; });

  static run::TextSimilarOptions sim;
  auto* s = tx->add_subcommand("similar", "the sentences of a file nearest to a query");
  s->add_option("--checkpoint", sim.checkpoint, "a text run (its folder, or its checkpoint file)")->required();
  s->add_option("--index", sim.index, "the sentences searched, one a line")->required();
  s->add_option("--query", sim.queries, "a sentence (repeatable)")->required();
  s->add_option("-k", sim.k, "neighbours per query")->check(CLI::PositiveNumber);
  s->add_option("--threads", sim.threads, "intra-op threads (default: all cores)");
  s->add_option("--device", sim.device, "cpu, cuda or cuda:N");
  s->callback([] { std::cout << run::text_similar(sim).dump(2) << std::endl; });

  static run::TextEvalOptions ev;
  static std::string ev_out;
  static bool ev_quiet = false;
  auto* v = tx->add_subcommand("eval", "score encoders and baselines on the same evaluation sets");
  v->add_option("--checkpoint", ev.checkpoints, "a text run (repeatable)");
  v->add_option("--baseline", ev.baselines, "tfidf, fasttext or untrained (repeatable)")
      ->check(CLI::IsMember({"tfidf", "fasttext", "untrained"}));
  v->add_option("--config", ev.config, "the data (default: the first checkpoint's config)");
  v->add_option("--corpus", ev.corpus, "the evaluation folder (default: data.eval)");
  v->add_option("--split", ev.split, "val (for choices) or test")->check(CLI::IsMember({"val", "test"}));
  v->add_option("--work-dir", ev.work_dir, "keep the fastText baseline's files here");
  v->add_option("--out", ev_out, "also write the figures (JSON) here");
  v->add_option("--threads", ev.threads, "intra-op threads (default: all cores)");
  v->add_option("--device", ev.device, "cpu, cuda or cuda:N");
  v->add_flag("--quiet", ev_quiet, "no progress lines");
  v->callback([] {
    set_progress_enabled(!ev_quiet);
    const auto j = run::text_eval(ev);
    if (!ev_out.empty()) train::write_file_atomic(ev_out, j.dump(2) + "\n");
    std::cout << j.dump(2) << std::endl;
  });
}
}  // namespace selfsup::cli
