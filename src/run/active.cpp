#include "selfsup/run/active.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "active_semi.h"
#include "common.h"
#include "selfsup/active/models.h"
#include "selfsup/active/query.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/protocols.h"
#include "selfsup/plot/chart.h"
#include "selfsup/train/hooks.h"

namespace selfsup::run {

namespace fs = std::filesystem;

ActiveOptions ActiveOptions::from_config(const Config& cfg) {
  const ActiveOptions d;
  return ActiveOptions()
      .model(cfg.get<std::string>("active.model", d.model()))
      .initial(cfg.get<std::string>("active.initial", d.initial()))
      .initial_size(cfg.get<int64_t>("active.initial_size", d.initial_size()))
      .batch(cfg.get<int64_t>("active.batch", d.batch()))
      .budget(cfg.get<int64_t>("active.budget", d.budget()))
      .l2(cfg.get<double>("active.l2", d.l2()))
      .max_iter(cfg.get<int64_t>("active.max_iter", d.max_iter()))
      .finetune_steps(cfg.get<int64_t>("active.finetune.steps", d.finetune_steps()))
      .finetune_batch_size(cfg.get<int64_t>("active.finetune.batch_size", d.finetune_batch_size()))
      .finetune_lr(cfg.get<double>("active.finetune.lr", d.finetune_lr()))
      .finetune_weight_decay(cfg.get<double>("active.finetune.weight_decay", d.finetune_weight_decay()))
      .oracle(cfg.get<std::string>("active.oracle", d.oracle()))
      .semi_config(cfg.get<std::string>("active.semi.config", d.semi_config()))
      .semi_steps(cfg.get<int64_t>("active.semi.steps", d.semi_steps()))
      .split(cfg.get<std::string>("active.split", d.split()))
      .val_per_class(cfg.get<int64_t>("active.val_per_class", d.val_per_class()));
}

void ActiveOptions::check(int64_t pool, int64_t classes) const {
  TORCH_CHECK(model() == "linear" || model() == "finetune" || model() == "semi",
              "active.model must be linear, finetune or semi, got '", model(), "'");
  TORCH_CHECK(model() != "semi" || !semi_config().empty(),
              "active.model semi trains the method of a semi config each round: set active.semi.config");
  TORCH_CHECK(semi_steps() >= 1, "active.semi.steps must be positive, got ", semi_steps());
  TORCH_CHECK(oracle() == "simulated" || oracle() == "files", "active.oracle (--oracle) must be simulated or files, got '",
              oracle(), "'");
  TORCH_CHECK(split() == "test" || split() == "val", "active.split must be test or val, got '", split(), "'");
  TORCH_CHECK(val_per_class() >= 1, "active.val_per_class must be positive, got ", val_per_class());
  TORCH_CHECK(initial_size() >= 1, "active.initial_size must be positive, got ", initial_size());
  TORCH_CHECK(batch() >= 1, "active.batch must be positive, got ", batch());
  TORCH_CHECK(budget() >= initial_size(), "active.budget (", budget(), ") is below the initial set (active.initial_size ",
              initial_size(), ")");
  TORCH_CHECK(budget() <= pool, "active.budget (", budget(), ") exceeds the ", pool, " training images");
  TORCH_CHECK(batch() <= pool - initial_size(), "active.batch (", batch(), ") is larger than the pool (", pool - initial_size(),
              " images after the initial set)");
  TORCH_CHECK(initial() != "balanced" || initial_size() % classes == 0, "active.initial balanced needs active.initial_size ",
              "to be a multiple of the ", classes, " classes, got ", initial_size());
  TORCH_CHECK(l2() >= 0, "active.l2 must be non-negative, got ", l2());
  TORCH_CHECK(max_iter() >= 1, "active.max_iter must be positive, got ", max_iter());
  TORCH_CHECK(finetune_steps() >= 1 && finetune_batch_size() >= 1 && finetune_lr() > 0 && finetune_weight_decay() >= 0,
              "active.finetune needs positive steps, batch_size and lr and a non-negative weight_decay");
}

double curve_area(const std::vector<double>& x, const std::vector<double>& y) {
  TORCH_CHECK(!x.empty() && x.size() == y.size(), "curve_area: ", x.size(), " label counts for ", y.size(), " accuracies");
  if (x.size() == 1 || x.back() == x.front()) return y.back();
  double area = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) area += (x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2;
  return area / (x.back() - x.front());
}

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}
torch::Tensor to_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n\"");
  const auto e = s.find_last_not_of(" \t\r\n\"");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    out = std::stoll(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

/// A person's answer to a query: `index,label` lines (a header line allowed; a label is a class
/// number or a class name), exactly one label for every queried index.
std::vector<int64_t> read_labels_csv(const std::string& path, const std::vector<int64_t>& queried,
                                     const std::vector<std::string>& classes) {
  std::ifstream in(path);
  TORCH_CHECK(in.good(), "cannot read the labels file ", path);
  std::map<int64_t, int64_t> wanted, got;
  for (size_t i = 0; i < queried.size(); ++i) wanted[queried[i]] = static_cast<int64_t>(i);
  std::vector<int64_t> labels(queried.size(), -1);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (trim(line).empty()) continue;
    const auto comma = line.find(',');
    TORCH_CHECK(comma != std::string::npos, "labels file ", path, " line ", n, ": expected 'index,label', got '", trim(line),
                "'");
    const auto is = trim(line.substr(0, comma)), ls = trim(line.substr(comma + 1));
    int64_t index = 0, label = -1;
    if (!parse_int(is, index)) {
      TORCH_CHECK(n == 1, "labels file ", path, " line ", n, ": the index '", is, "' is not a number");
      continue;  // the header
    }
    TORCH_CHECK(wanted.count(index), "labels file ", path, " line ", n, ": index ", index,
                " is not one of the images this round queried");
    TORCH_CHECK(!got.count(index), "labels file ", path, " line ", n, ": index ", index, " is labeled twice");
    if (!parse_int(ls, label)) {
      const auto it = std::find(classes.begin(), classes.end(), ls);
      TORCH_CHECK(it != classes.end(), "labels file ", path, " line ", n, ": the label '", ls,
                  "' is neither a class number nor a class name");
      label = it - classes.begin();
    }
    TORCH_CHECK(label >= 0 && label < static_cast<int64_t>(classes.size()), "labels file ", path, " line ", n, ": label ",
                label, " is outside the classes 0..", classes.size() - 1);
    got[index] = label;
    labels[wanted[index]] = label;
  }
  for (size_t i = 0; i < queried.size(); ++i) {
    TORCH_CHECK(labels[i] >= 0, "labels file ", path, " gives no label for ", queried.size() - got.size(), " of the ",
                queried.size(), " queried images (the first: index ", queried[i], ")");
  }
  return labels;
}

std::string query_csv(const std::vector<int64_t>& q) {
  std::ostringstream s;
  s << "index\n";
  for (const auto i : q) s << i << "\n";
  return s.str();
}

struct Loop {
  std::vector<int64_t> labeled, labels, pending;
  nlohmann::json curve = nlohmann::json::array();
  double seconds = 0;
  int64_t round() const { return static_cast<int64_t>(curve.size()); }
};

nlohmann::json curve_json(const Loop& s, const Config& cfg, const ActiveOptions& o, const std::string& strategy) {
  std::vector<double> x, y;
  for (const auto& r : s.curve) {
    x.push_back(r["labeled"].get<double>());
    y.push_back(r["acc"].get<double>());
  }
  return {{"strategy", strategy},
          {"model", o.model()},
          {"initial", o.initial()},
          {"seed", cfg.get<uint64_t>("seed", 0)},
          {"dataset", cfg.get<std::string>("data.name", "")},
          {"split", o.split()},
          {"l2", o.model() == "linear" ? nlohmann::json(o.l2()) : nlohmann::json()},
          {"rounds", s.curve},
          {"auc", x.empty() ? 0.0 : curve_area(x, y)}};
}

std::string curve_png(const nlohmann::json& curve) {
  plot::Series series;
  series.name = curve["strategy"].get<std::string>();
  for (const auto& r : curve["rounds"]) {
    series.x.push_back(r["labeled"].get<double>());
    series.y.push_back(100 * r["acc"].get<double>());
  }
  return plot::line_chart_png({series}, plot::ChartOptions()
                                            .title("active learning: " + series.name + " (" +
                                                   curve["model"].get<std::string>() + " model)")
                                            .x_label("labeled images")
                                            .y_label(curve.value("split", "test") == "val" ? "validation accuracy (%)"
                                                                                           : "test accuracy (%)"));
}

}  // namespace

nlohmann::json active(Config cfg, const RunOptions& ro, const std::string& init_arg, const std::string& oracle_arg) {
  train::RunDir dir(ro.out_dir, train::run_mode(ro.resume, ro.overwrite));
  Loop s;
  std::string init = init_arg;
  if (dir.resuming()) {
    TORCH_CHECK(dir.has_active_state(), "--resume: ", dir.path(), " holds no active learning loop");
    cfg = dir.saved_config();
    const auto st = dir.read_active_state();
    try {
      s.labeled = st.at("labeled").get<std::vector<int64_t>>();
      s.labels = st.at("labels").get<std::vector<int64_t>>();
      s.pending = st.at("pending").get<std::vector<int64_t>>();
      s.curve = st.at("curve");
      s.seconds = st.at("seconds").get<double>();
      init = st.at("init").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      TORCH_CHECK(false, "the loop's state in ", dir.path(), " is damaged: ", e.what());
    }
    TORCH_CHECK(init_arg.empty() || fs::absolute(init_arg).lexically_normal().string() == init,
                "--resume continues with the encoder the loop started with (", init, "), not ", init_arg);
  }
  if (!oracle_arg.empty()) cfg.set("active.oracle", YAML::Node(oracle_arg));
  TORCH_CHECK(!init.empty(), "active needs --init: a pretrain run whose encoder the rounds use");
  if (!dir.resuming()) init = fs::absolute(init).lexically_normal().string();  // a resume may start elsewhere
  auto o = ActiveOptions::from_config(cfg);
  TORCH_CHECK(!dir.resuming() || !s.pending.empty() || s.curve.empty() ||
                  s.curve.back().value("labeled", int64_t{0}) < static_cast<int64_t>(s.labeled.size()),
              "--resume: the loop in ", dir.path(), " has finished (", s.labeled.size(), " labels, budget ", o.budget(),
              ")");
  const auto strategy_name = cfg.require<std::string>("strategy.name");
  auto strategy = active::make_strategy(cfg);
  auto c = detail::setup(cfg);
  // With split "val" the curve scores a validation split carved from the training images, which
  // leave the pool: recipes are compared there, never on the test set.
  c.data = eval::scored_split(c.data, eval::EvalOptions().split(o.split()).val_per_class(o.val_per_class()), c.seed);
  const auto& train_set = c.data.train;
  const int64_t n = train_set.size(), classes = train_set.num_classes();
  o.check(n, classes);
  active::Strategy initial_strategy;
  if (o.initial() != "balanced") {
    initial_strategy = active::make_strategy(o.initial());
    TORCH_CHECK(!initial_strategy->needs_model(), "active.initial: ", o.initial(),
                " scores with a trained model and cannot choose the first labeled set; use balanced, random, coreset ",
                "or typiclust");
  }

  auto loaded = detail::load_run(train::RunDir::checkpoint_of(init), detail::configured_threads(cfg),
                                 cfg.get<std::string>("device", "cpu"), {});
  const auto encoder = loaded.method->encoder();
  const auto& norm = loaded.context.norm;  // the encoder's: it was trained on images normalised so
  TORCH_CHECK(loaded.context.data.train.channels() == train_set.channels() &&
                  loaded.context.data.train.height() == train_set.height(),
              "--init: the encoder takes ", loaded.context.data.train.channels(), "x",
              loaded.context.data.train.height(), " images, the data set has ", train_set.channels(), "x",
              train_set.height());
  cfg.check_all_used();
  train::install_stop_handlers();
  dir.start(cfg);

  const auto encode = [&](const torch::Tensor& x) { return encoder->forward(x); };
  if (!ro.quiet) std::cerr << "active: features of " << n << " training and " << c.data.test.size() << " test images\n";
  const auto features = eval::extract_features(encode, train_set.images, norm, c.device).to(torch::kCPU, torch::kFloat);
  const auto test_features =
      eval::extract_features(encode, c.data.test.images, norm, c.device).to(torch::kCPU, torch::kFloat);

  auto save = [&] {
    dir.write_active_state({{"config", cfg.dump()},
                            {"init", init},
                            {"labeled", s.labeled},
                            {"labels", s.labels},
                            {"pending", s.pending},
                            {"curve", s.curve},
                            {"seconds", s.seconds}});
  };
  auto pool_of = [&] {
    auto is_labeled = torch::zeros({n}, torch::kBool);
    if (!s.labeled.empty()) is_labeled.index_fill_(0, to_tensor(s.labeled), true);
    return active::Pool{features, to_tensor(s.labeled), is_labeled.logical_not().nonzero().flatten()};
  };
  // The query goes to the oracle: the data set's labels, or a person's file (the loop then stops).
  auto reveal = [&](const std::vector<int64_t>& q) {
    if (o.oracle() == "simulated") {
      const auto y = to_vector(train_set.labels.index_select(0, to_tensor(q)));
      s.labeled.insert(s.labeled.end(), q.begin(), q.end());
      s.labels.insert(s.labels.end(), y.begin(), y.end());
    } else {
      s.pending = q;
      dir.write_query(s.round(), query_csv(q));
    }
  };
  auto waiting = [&]() -> nlohmann::json {
    save();
    detail::write_report(dir);
    const auto path = dir.labels_path(s.round());
    std::cerr << "active: round " << s.round() << " queried " << s.pending.size() << " images (" << dir.query_path(s.round())
              << "); write their labels to " << path << " as index,label lines, then run again with --resume\n";
    return {{"waiting_for", path}, {"query", dir.query_path(s.round())}, {"round", s.round()},
            {"labeled", s.labeled.size()}};
  };

  if (!dir.resuming()) {
    std::vector<int64_t> first;
    if (o.initial() == "balanced") {
      first = to_vector(data::labeled_subset(train_set.labels, o.initial_size() / classes, derive_seed(c.seed, "initial")).labeled);
    } else {
      first = to_vector(active::query(*initial_strategy, pool_of(), nullptr, o.initial_size(), derive_seed(c.seed, "initial")));
    }
    reveal(first);
    if (!s.pending.empty()) return waiting();
    save();
  }

  while (true) {
    if (!s.pending.empty()) {
      const auto path = dir.labels_path(s.round());
      std::error_code ec;
      if (!fs::exists(path, ec)) return waiting();
      const auto y = read_labels_csv(path, s.pending, train_set.classes);
      s.labeled.insert(s.labeled.end(), s.pending.begin(), s.pending.end());
      s.labels.insert(s.labels.end(), y.begin(), y.end());
      s.pending.clear();
      save();
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t round = s.round();
    std::unique_ptr<active::ScoredModel> model;
    if (o.model() == "linear") {
      model = std::make_unique<active::LinearRoundModel>(features, test_features, c.data.test.labels, to_tensor(s.labeled),
                                                         to_tensor(s.labels), classes, o.l2(), o.max_iter());
    } else if (o.model() == "semi") {
      detail::Context sc{c.seed, c.device, c.data, norm};
      model = detail::semi_round_model(o.semi_config(), o.semi_steps(), train::RunDir::checkpoint_of(init), sc,
                                       to_tensor(s.labeled), to_tensor(s.labels), pool_of().unlabeled,
                                       derive_seed(c.seed, "model") + round);
    } else {
      model = std::make_unique<active::FinetuneRoundModel>(
          encoder, train_set, c.data.test, to_tensor(s.labeled), to_tensor(s.labels), norm, c.device,
          eval::FinetuneOptions()
              .steps(o.finetune_steps())
              .batch_size(o.finetune_batch_size())
              .lr(o.finetune_lr())
              .weight_decay(o.finetune_weight_decay())
              .seed(derive_seed(c.seed, "model") + round));
    }
    const double acc = model->test_accuracy();
    const auto t1 = std::chrono::steady_clock::now();
    const bool done = static_cast<int64_t>(s.labeled.size()) >= o.budget() || static_cast<int64_t>(s.labeled.size()) >= n;
    std::vector<int64_t> q;
    if (!done) {
      const int64_t b = std::min(o.batch(), o.budget() - static_cast<int64_t>(s.labeled.size()));
      q = to_vector(active::query(*strategy, pool_of(), model.get(), b, derive_seed(c.seed, "query") + round));
    }
    const auto t2 = std::chrono::steady_clock::now();
    const double fit_s = std::chrono::duration<double>(t1 - t0).count(), query_s = std::chrono::duration<double>(t2 - t1).count();
    s.seconds += fit_s + query_s;
    const nlohmann::json row{{"round", round},       {"labeled", s.labeled.size()}, {"acc", acc},
                             {"fit_seconds", fit_s}, {"query_seconds", query_s},   {"seconds", s.seconds}};
    s.curve.push_back(row);
    dir.append_metrics(row);
    const auto curve = curve_json(s, cfg, o, strategy_name);
    dir.write_curve(curve, curve_png(curve));
    if (!ro.quiet) {
      std::cerr << "round " << round << ": " << s.labeled.size() << " labels, "
                << (o.split() == "val" ? "validation" : "test") << " accuracy " << acc << " (fit "
                << fit_s << " s, query " << query_s << " s)\n";
    }
    if (done) break;
    reveal(q);
    if (!s.pending.empty()) return waiting();
    save();
    if (train::stop_requested()) {
      TORCH_CHECK(false, "stopped by a signal after round ", round, "; --resume continues at round ", s.round());
    }
  }
  save();
  const auto curve = curve_json(s, cfg, o, strategy_name);
  nlohmann::json summary{{"strategy", strategy_name},
                         {"model", o.model()},
                         {"initial", o.initial()},
                         {"oracle", o.oracle()},
                         {"init", init},
                         {"dataset", train_set.name},
                         {"split", o.split()},
                         {"budget", o.budget()},
                         {"batch", o.batch()},
                         {"rounds", s.curve.size()},
                         {"labeled", s.labeled.size()},
                         {"final_acc", s.curve.back()["acc"]},
                         {"auc", curve["auc"]},
                         {"seconds", s.seconds},
                         {"threads", at::get_num_threads()}};
  dir.write_summary(summary);
  detail::write_report(dir);
  return summary;
}

nlohmann::json active_compare(const std::vector<std::string>& runs, const std::string& out_png) {
  TORCH_CHECK(!runs.empty(), "active compare needs at least one run folder");
  struct Group {
    std::vector<std::string> runs;
    std::vector<std::map<int64_t, double>> curves;
    std::vector<double> aucs;
  };
  std::map<std::string, Group> groups;
  std::vector<std::string> order;
  for (const auto& r : runs) {
    const auto path = train::RunDir::curve_of(r);
    std::ifstream in(path);
    TORCH_CHECK(in.good(), "active compare: ", r, " has no learning curve (", path, ")");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      TORCH_CHECK(false, "active compare: ", path, " is damaged: ", e.what());
    }
    // A group is one recipe: the strategy, the model, and whether the first set used labels.
    std::string name = j.value("strategy", "?");
    if (j.value("model", "linear") != "linear") name += " (" + j.value("model", "") + ")";
    if (j.value("initial", "balanced") != "balanced") name += " (cold start)";
    if (j.contains("l2") && j["l2"].is_number() && j["l2"].get<double>() != ActiveOptions().l2()) {
      std::ostringstream l2;
      l2 << j["l2"].get<double>();
      name += " (L2 " + l2.str() + ")";
    }
    if (!groups.count(name)) order.push_back(name);
    auto& g = groups[name];
    g.runs.push_back(r);
    std::map<int64_t, double> curve;
    for (const auto& row : j.at("rounds")) curve[row.at("labeled").get<int64_t>()] = row.at("acc").get<double>();
    TORCH_CHECK(!curve.empty(), "active compare: ", path, " has no round");
    g.curves.push_back(curve);
    g.aucs.push_back(j.value("auc", 0.0));
  }
  std::vector<plot::Series> series;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : order) {
    const auto& g = groups[name];
    plot::Series sr;
    sr.name = name + " (" + std::to_string(g.runs.size()) + ")";
    nlohmann::json points = nlohmann::json::array();
    for (const auto& [labels, acc0] : g.curves.front()) {
      std::vector<double> v;
      for (const auto& c : g.curves) {
        if (c.count(labels)) v.push_back(c.at(labels));
      }
      if (v.size() != g.curves.size()) continue;  // a label count some runs did not reach
      const auto sp = eval::spread(v);
      sr.x.push_back(static_cast<double>(labels));
      sr.y.push_back(100 * sp.mean);
      sr.spread.push_back(100 * sp.std);
      points.push_back({{"labeled", labels}, {"mean", sp.mean}, {"std", sp.std}});
    }
    const auto auc = eval::spread(g.aucs);
    series.push_back(sr);
    out.push_back({{"name", name}, {"runs", g.runs}, {"auc_mean", auc.mean}, {"auc_std", auc.std}, {"curve", points}});
  }
  if (!out_png.empty()) {
    train::write_file_atomic(out_png, plot::line_chart_png(series, plot::ChartOptions()
                                                                       .title("active learning: mean and spread over runs")
                                                                       .x_label("labeled images")
                                                                       .y_label("accuracy (%)")));
  }
  return out;
}

}  // namespace selfsup::run
