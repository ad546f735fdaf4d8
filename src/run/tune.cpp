#include "selfsup/run/tune.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <thread>

#include "common.h"
#include "selfsup/core/config.h"
#include "selfsup/core/runtime.h"
#include "selfsup/methods/method.h"
#include "selfsup/plot/chart.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/hooks.h"
#include "selfsup/tune/search.h"

namespace selfsup::run {
namespace fs = std::filesystem;
namespace {

constexpr double kNoScore = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kState = "tune_state.json";

std::string read_text(const std::string& path, const char* what) {
  return detail::read_file(path, std::string("the tune ") + what);
}

/// Space keys under this prefix belong to the pretraining stage of a pipeline: `pretrain.share`
/// (its part of each trial's budget) and `pretrain.<config key>` (set in the pretraining config).
constexpr const char* kStage = "pretrain.";
constexpr const char* kShare = "pretrain.share";

bool is_stage_key(const std::string& key) { return key.rfind(kStage, 0) == 0; }

/// The search's settings from the space file: metric, direction, trials, eta, seed, space, and an
/// optional pipeline: each trial first pretrains with `pretrain.config` for `share` of its budget,
/// then trains the base config's method from that encoder (--init) for the rest.
struct Settings {
  std::string metric = "val_acc";
  bool maximize = true;
  int64_t trials = 9, eta = 3;
  uint64_t seed = 0;
  tune::SearchSpace space;
  std::string pretrain_config;  // empty: no pretraining stage
  double share = 1.0 / 3.0;     // used where the space does not search pretrain.share
};

void check_share(double share, const std::string& where) {
  TORCH_CHECK(share >= 0 && share < 1, where, ": pretrain.share must be in [0, 1), got ", share);
}

Settings settings_of(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    TORCH_CHECK(false, source, ": not valid YAML: ", e.what());
  }
  TORCH_CHECK(root.IsMap(), source, ": expected a map with metric, trials, eta, seed and space");
  Settings s;
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    try {
      if (key == "metric") {
        s.metric = kv.second.as<std::string>();
      } else if (key == "direction") {
        const auto d = kv.second.as<std::string>();
        TORCH_CHECK(d == "maximize" || d == "minimize", source, ": direction must be maximize or minimize, got '", d, "'");
        s.maximize = d == "maximize";
      } else if (key == "trials") {
        s.trials = kv.second.as<int64_t>();
      } else if (key == "eta") {
        s.eta = kv.second.as<int64_t>();
      } else if (key == "seed") {
        s.seed = kv.second.as<uint64_t>();
      } else if (key == "pretrain") {
        TORCH_CHECK(kv.second.IsMap() && kv.second["config"], source,
                    ": pretrain must be a map with config (a pretraining config) and optionally share");
        for (const auto& p : kv.second) {
          const auto k = p.first.as<std::string>();
          if (k == "config") {
            s.pretrain_config = p.second.as<std::string>();
          } else if (k == "share") {
            s.share = p.second.as<double>();
            check_share(s.share, source);
          } else {
            TORCH_CHECK(false, source, ": unknown key 'pretrain.", k, "' (expected config, share)");
          }
        }
      } else if (key != "space") {
        TORCH_CHECK(false, source, ": unknown key '", key,
                    "' (expected metric, direction, trials, eta, seed, pretrain, space)");
      }
    } catch (const YAML::Exception&) {
      TORCH_CHECK(false, source, ": '", key, "' has a value of the wrong type");
    }
  }
  TORCH_CHECK(root["space"], source, ": no `space` to search");
  s.space = tune::SearchSpace::from_yaml(root["space"], source);
  for (const auto& d : s.space.dims) {
    TORCH_CHECK(!is_stage_key(d.key) || !s.pretrain_config.empty(), source, ": space key '", d.key,
                "' needs a `pretrain:` block naming the pretraining config");
  }
  tune::check_metric(s.metric);
  TORCH_CHECK(s.trials >= 1, source, ": trials must be >= 1, got ", s.trials);
  TORCH_CHECK(s.eta >= 2, source, ": eta must be >= 2, got ", s.eta);
  return s;
}

/// The subcommand that trains a method, by its kind.
std::vector<std::string> command_of(const std::string& method) {
  switch (methods::Registry::instance().get(method).kind) {
    case methods::Kind::kSelfSupervised: return {"pretrain"};
    case methods::Kind::kSemiSupervised:
    case methods::Kind::kSupervised: return {"semi"};
    case methods::Kind::kPositiveUnlabeled: return {"pu"};
    case methods::Kind::kDenoising: return {"denoise", "train"};
    case methods::Kind::kTextEmbedding: return {"text", "train"};
  }
  return {};
}

/// A trial's config for one stage: the base with the stage's part of the assignment set (the
/// pretraining stage takes the `pretrain.` keys without their prefix, the method the others).
Config trial_config(const std::string& base_text, const std::string& base_source, const nlohmann::json& params,
                    bool stage = false) {
  auto cfg = Config::parse(base_text, base_source);
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (is_stage_key(it.key()) != stage || it.key() == kShare) continue;
    cfg.set(stage ? it.key().substr(std::string(kStage).size()) : it.key(), YAML::Load(it.value().get<std::string>()));
  }
  return cfg;
}

/// The trial's pretraining share of its budget: drawn, or the space file's.
double share_of(const nlohmann::json& params, const Settings& s) {
  if (s.pretrain_config.empty()) return 0;
  return params.contains(kShare) ? YAML::Load(params[kShare].get<std::string>()).as<double>() : s.share;
}

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out.precision(17);
  out << seconds;
  return out.str();
}

/// The figure at a dotted path of a summary.
double metric_of(const nlohmann::json& summary, const std::string& metric, const std::string& where) {
  const nlohmann::json* v = &summary;
  std::stringstream parts(metric);
  std::string part;
  while (std::getline(parts, part, '.')) {
    TORCH_CHECK(v->is_object() && v->contains(part), "tune: ", where, " has no '", metric, "'");
    v = &(*v)[part];
  }
  TORCH_CHECK(v->is_number(), "tune: '", metric, "' in ", where, " is not a number");
  return v->get<double>();
}

struct Job {
  int64_t trial = 0;
  std::string dir;
  double start = 0;
  std::vector<std::string> then;  // a pipeline's method stage, started when its pretraining ends
  std::string stage_dir;          // the pretraining stage's run folder, while it runs
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Starts this program with `args`, its output into `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> owned{"selfsup"};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  TORCH_CHECK(pid >= 0, "tune: fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string last_line(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

nlohmann::json tune(const TuneOptions& o) {
  TORCH_CHECK(!o.out.empty(), "tune needs --out DIR");
  const auto state_path = (fs::path(o.out) / kState).string();
  nlohmann::json state;
  if (o.resume) {
    TORCH_CHECK(fs::exists(state_path), "--resume: no search in ", o.out, " (", kState, " is missing)");
    state = nlohmann::json::parse(read_text(state_path, "search state"));
    if (!o.config.empty()) {
      TORCH_CHECK(read_text(o.config, "config") == state["base_config"].get<std::string>(),
                  "--resume: ", o.config, " differs from the config the search in ", o.out, " started with; drop --config");
    }
    if (!o.space.empty()) {
      TORCH_CHECK(read_text(o.space, "search space") == state["space"].get<std::string>(), "--resume: ", o.space,
                  " differs from the space the search in ", o.out, " started with; drop --space");
    }
  } else {
    TORCH_CHECK(!o.config.empty() && !o.space.empty(), "tune needs --config BASE.yaml and --space SPACE.yaml");
    TORCH_CHECK(!fs::exists(state_path) || o.overwrite, o.out, " holds a search (", kState,
                "): --resume continues it, --overwrite replaces it");
    state = {{"base_config", read_text(o.config, "config")}, {"base_source", o.config},
             {"space", read_text(o.space, "search space")}, {"space_source", o.space}, {"time_limit", o.time_limit},
             {"parallel", o.parallel}};
  }
  const auto base_text = state["base_config"].get<std::string>();
  const auto base_source = state["base_source"].get<std::string>();
  const auto settings = settings_of(state["space"].get<std::string>(), state["space_source"].get<std::string>());
  if (!o.resume && !settings.pretrain_config.empty()) {
    // The pretraining config is kept whole like the base, so a resumed search trains what it began.
    state["pretrain_config"] = read_text(settings.pretrain_config, "pretraining config");
    state["pretrain_source"] = settings.pretrain_config;
  }
  const double time_limit = state["time_limit"].get<double>();
  const int64_t parallel = state["parallel"].get<int64_t>();
  const auto plan = tune::halving_plan(settings.trials, settings.eta, time_limit, parallel);
  const auto pre_text = state.value("pretrain_config", std::string());
  const auto pre_source = state.value("pretrain_source", std::string());

  if (!o.resume) {
    // Every trial's values, drawn once; each is checked to build a config the same command trains.
    auto gen = make_generator(derive_seed(settings.seed, "tune"));
    const auto base = Config::parse(base_text, base_source);
    const auto command = command_of(base.get<std::string>("method.name", ""));
    nlohmann::json trials = nlohmann::json::array();
    for (int64_t t = 0; t < settings.trials; ++t) {
      nlohmann::json params = nlohmann::json::object();
      for (const auto& [key, value] : settings.space.sample(gen)) params[key] = tune::to_text(value);
      const auto cfg = trial_config(base_text, base_source, params);
      const auto method = cfg.get<std::string>("method.name", "");
      TORCH_CHECK(command_of(method) == command, "tune: trial ", t, " draws method '", method,
                  "', which another command trains than the base config's '", base.get<std::string>("method.name", ""),
                  "'");
      if (!pre_text.empty()) {
        check_share(share_of(params, settings), "tune: trial " + std::to_string(t));
        const auto pre = trial_config(pre_text, pre_source, params, true).get<std::string>("method.name", "");
        TORCH_CHECK(command_of(pre) == std::vector<std::string>{"pretrain"}, "tune: trial ", t,
                    " pretrains with method '", pre, "', which is not a self-supervised method");
      }
      trials.push_back({{"id", t}, {"params", params}, {"results", nlohmann::json::array()}});
    }
    state["trials"] = trials;
    state["command"] = command;
    if (o.overwrite && fs::exists(o.out)) {
      for (const auto& e : fs::directory_iterator(o.out)) {
        if (e.path().filename().string().rfind("trial_", 0) == 0) fs::remove_all(e.path());
      }
    }
    fs::create_directories(o.out);
    train::write_file_atomic(state_path, state.dump(1) + "\n");
  }
  const auto command = state["command"].get<std::vector<std::string>>();
  auto& trials = state["trials"];
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = std::max(1, static_cast<int>(cores) / static_cast<int>(parallel));
  train::install_stop_handlers();

  auto result_at = [&](int64_t t, size_t rung) -> const nlohmann::json* {
    for (const auto& r : trials[t]["results"]) {
      if (r["rung"].get<size_t>() == rung) return &r;
    }
    return nullptr;
  };
  auto score_of = [&](int64_t t, size_t rung) {
    const auto* r = result_at(t, rung);
    if (!r || (*r)["status"] != "done") return kNoScore;
    const double s = (*r)["score"].get<double>();
    return settings.maximize ? s : -s;
  };

  std::vector<int64_t> ids(settings.trials);
  std::iota(ids.begin(), ids.end(), 0);
  for (size_t rung = 0; rung < plan.size(); ++rung) {
    if (rung > 0) {
      std::vector<double> scores;
      for (auto t : ids) scores.push_back(score_of(t, rung - 1));
      std::vector<int64_t> next;
      for (auto i : tune::promote(scores, plan[rung].trials)) next.push_back(ids[i]);
      ids = next;
    }
    std::vector<int64_t> todo;
    for (auto t : ids) {
      if (!result_at(t, rung)) todo.push_back(t);
    }
    std::map<pid_t, Job> running;
    size_t next = 0;
    bool forwarded = false;
    while (next < todo.size() || !running.empty()) {
      while (next < todo.size() && static_cast<int64_t>(running.size()) < parallel && !train::stop_requested()) {
        const int64_t t = todo[next++];
        const auto dir = (fs::path(o.out) / ("trial_" + std::to_string(t))).string();
        fs::create_directories(dir);
        const auto cfg_path = dir + "/config.yaml";
        train::write_file_atomic(cfg_path, trial_config(base_text, base_source, trials[t]["params"]).dump());
        const auto run_dir = dir + "/rung_" + std::to_string(rung);
        const std::string threads_set = "train.threads=" + std::to_string(threads);
        const double share = share_of(trials[t]["params"], settings);
        std::vector<std::string> args = command;
        args.insert(args.end(), {"--config", cfg_path, "--out", run_dir, "--overwrite", "--quiet", "--time-limit",
                                 seconds_text(plan[rung].seconds * (1 - share)), "--set", threads_set});
        if (share <= 0) {
          running[spawn(args, run_dir + ".log")] = {t, run_dir, now(), {}, {}};
          continue;
        }
        // A pipeline: the pretraining stage first, in its own run folder; the method's run starts
        // from its encoder when it ends.
        const auto pre_path = dir + "/pretrain.yaml";
        train::write_file_atomic(pre_path, trial_config(pre_text, pre_source, trials[t]["params"], true).dump());
        const auto pre_dir = run_dir + "_pretrain";
        args.insert(args.end(), {"--init", pre_dir});
        const std::vector<std::string> pre_args{"pretrain",     "--config", pre_path,
                                                "--out",        pre_dir,    "--overwrite",
                                                "--quiet",      "--no-eval", "--time-limit",
                                                seconds_text(plan[rung].seconds * share), "--set", threads_set};
        running[spawn(pre_args, pre_dir + ".log")] = {t, run_dir, now(), args, pre_dir};
      }
      if (running.empty()) break;
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        TORCH_CHECK(pid == 0 || errno == EINTR, "tune: waiting for the trials failed");
        // A stop (SIGINT, SIGTERM) is passed on once to the trials, which save their checkpoints
        // and exit; the search then stops with them.
        if (train::stop_requested() && !forwarded) {
          for (const auto& kv : running) ::kill(kv.first, SIGTERM);
          forwarded = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      Job job = it->second;
      running.erase(it);
      if (train::stop_requested()) continue;  // stopped early: run again on --resume
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (ok && !job.then.empty()) {  // the pretraining stage ended: the method's stage now
        const auto args = std::move(job.then);
        job.then.clear();
        running[spawn(args, job.dir + ".log")] = job;
        continue;
      }
      nlohmann::json r = {{"rung", rung}, {"seconds", plan[rung].seconds}, {"run", job.dir},
                          {"wall_seconds", now() - job.start}};
      if (!job.stage_dir.empty()) {
        r["pretrain_run"] = job.stage_dir;
        r["pretrain_seconds"] = plan[rung].seconds * share_of(trials[job.trial]["params"], settings);
      }
      if (ok) {
        try {
          const auto summary = nlohmann::json::parse(read_text(job.dir + "/summary.json", "trial summary"));
          r["score"] = metric_of(summary, settings.metric, job.dir + "/summary.json");
          TORCH_CHECK(summary.value("eval_split", std::string("val")) != "test", "tune: the trial's summary scores the "
                      "test set (eval.split test); set eval.split: val in the base config");
          r["status"] = "done";
        } catch (const c10::Error& e) {
          r["status"] = "failed";
          r["error"] = e.msg();
        }
      } else {
        r["status"] = "failed";
        r["error"] = last_line((job.then.empty() ? job.dir : job.stage_dir) + ".log");
      }
      trials[job.trial]["results"].push_back(r);
      train::write_file_atomic(state_path, state.dump(1) + "\n");
      if (!o.quiet) {
        std::cerr << "rung " << rung << " (" << plan[rung].seconds << " s): trial " << job.trial;
        if (r["status"] == "done") {
          std::cerr << " " << settings.metric << " " << r["score"].get<double>();
        } else {
          std::cerr << " failed: " << r["error"].get<std::string>();
        }
        std::cerr << "\n";
      }
    }
    TORCH_CHECK(!train::stop_requested(), "tune stopped; `selfsup tune --resume --out ", o.out,
                "` continues from the trials that finished");
  }

  // Ranked: the furthest rung first, then the score there.
  std::vector<int64_t> order(settings.trials);
  std::iota(order.begin(), order.end(), 0);
  auto reached = [&](int64_t t) {
    int64_t best = -1;
    for (const auto& r : trials[t]["results"]) {
      if (r["status"] == "done") best = std::max(best, r["rung"].get<int64_t>());
    }
    return best;
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const auto ra = reached(a), rb = reached(b);
    if (ra != rb) return ra > rb;
    if (ra < 0) return false;
    return score_of(a, static_cast<size_t>(ra)) > score_of(b, static_cast<size_t>(rb));
  });
  nlohmann::json table = nlohmann::json::array();
  std::ostringstream md;
  md << "| rank | trial | " << settings.metric << " (last rung) | rungs |";
  for (const auto& d : settings.space.dims) md << " " << d.key << " |";
  md << "\n|---|---|---|---|";
  for (size_t d = 0; d < settings.space.dims.size(); ++d) md << "---|";
  md << "\n";
  std::vector<plot::Series> series;
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t t = order[i];
    const auto r = reached(t);
    const double score = r >= 0 ? score_of(t, static_cast<size_t>(r)) * (settings.maximize ? 1 : -1) : kNoScore;
    table.push_back({{"rank", i + 1}, {"trial", t}, {"rungs", r + 1}, {"score", r >= 0 ? nlohmann::json(score) : nullptr},
                     {"params", trials[t]["params"]}, {"results", trials[t]["results"]}});
    if (!pre_text.empty()) table.back()["pretrain_share"] = share_of(trials[t]["params"], settings);
    md << "| " << i + 1 << " | " << t << " | " << (r >= 0 ? std::to_string(score) : std::string("failed")) << " | "
       << r + 1 << " |";
    for (const auto& d : settings.space.dims) md << " " << trials[t]["params"][d.key].get<std::string>() << " |";
    md << "\n";
    plot::Series s;
    s.name = "trial " + std::to_string(t);
    for (const auto& res : trials[t]["results"]) {
      if (res["status"] != "done") continue;
      s.x.push_back(res["seconds"].get<double>());
      s.y.push_back(res["score"].get<double>());
    }
    if (!s.x.empty()) series.push_back(std::move(s));
  }
  if (!order.empty() && reached(order[0]) >= 0) {
    // The winner as the commands that train it again, at the budget of the last rung it reached.
    const int64_t t = order[0];
    const double seconds = plan[static_cast<size_t>(reached(t))].seconds;
    const double share = share_of(trials[t]["params"], settings);
    const auto best = (fs::path(o.out) / "best.yaml").string();
    const auto tenths = [](double x) {  // tenths of a second, without a trailing ".0"
      std::ostringstream os;
      os << std::fixed << std::setprecision(1) << x;
      auto text = os.str();
      return text.substr(text.size() - 2) == ".0" ? text.substr(0, text.size() - 2) : text;
    };
    std::string cmd = "selfsup";
    for (const auto& c : command) cmd += " " + c;
    md << "\nThe winner, trained again for its last rung's " << tenths(seconds) << " s:\n\n";
    if (share > 0) {
      md << "    selfsup pretrain --config " << (fs::path(o.out) / "best_pretrain.yaml").string()
         << " --out RUN_pretrain --no-eval --time-limit " << tenths(seconds * share) << "\n";
      md << "    " << cmd << " --config " << best << " --init RUN_pretrain --out RUN --time-limit "
         << tenths(seconds * (1 - share)) << "\n";
    } else {
      md << "    " << cmd << " --config " << best << " --out RUN --time-limit " << tenths(seconds) << "\n";
    }
  }
  const nlohmann::json out = {{"metric", settings.metric},
                              {"direction", settings.maximize ? "maximize" : "minimize"},
                              {"command", command},
                              {"plan", [&] {
                                 nlohmann::json p = nlohmann::json::array();
                                 for (const auto& r : plan) p.push_back({{"trials", r.trials}, {"seconds", r.seconds}});
                                 return p;
                               }()},
                              {"ranked", table}};
  train::write_file_atomic((fs::path(o.out) / "tune_results.json").string(), out.dump(1) + "\n");
  train::write_file_atomic((fs::path(o.out) / "tune_results.md").string(), md.str());
  if (!table.empty() && !table[0]["score"].is_null()) {
    train::write_file_atomic((fs::path(o.out) / "best.yaml").string(),
                             trial_config(base_text, base_source, trials[order[0]]["params"]).dump());
    if (share_of(trials[order[0]]["params"], settings) > 0) {  // the winner's pretraining stage too
      train::write_file_atomic((fs::path(o.out) / "best_pretrain.yaml").string(),
                               trial_config(pre_text, pre_source, trials[order[0]]["params"], true).dump());
    }
  }
  if (!series.empty()) {
    train::write_file_atomic((fs::path(o.out) / "tune.png").string(),
                             plot::line_chart_png(series, plot::ChartOptions()
                                                              .title("successive halving: each trial's " + settings.metric)
                                                              .x_label("seconds of training per trial")
                                                              .y_label(settings.metric)));
  }
  return out;
}

}  // namespace selfsup::run
