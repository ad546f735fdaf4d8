#include "selfsup/run/weak.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "common.h"
#include "selfsup/data/npy.h"
#include "selfsup/data/splits.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/train/run_dir.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/weak/label_model.h"
#include "selfsup/weak/labeling_functions.h"

namespace selfsup::run {

namespace fs = std::filesystem;

torch::Tensor read_votes(const std::string& path) {
  const std::string bytes = detail::read_file(path, "the votes file");
  if (bytes.rfind("\x93NUMPY", 0) == 0) {
    auto t = data::parse_npy(bytes, path);
    TORCH_CHECK(t.dim() == 2, "votes file ", path, ": expected a matrix [examples, functions], got shape ", t.sizes());
    TORCH_CHECK(!t.is_floating_point(), "votes file ", path, ": expected integers, got ", t.scalar_type());
    return t.to(torch::kLong);
  }
  std::vector<int64_t> values;
  int64_t cols = -1, rows = 0;
  std::istringstream lines(bytes);
  std::string line;
  for (int64_t n = 1; std::getline(lines, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<int64_t> row;
    std::stringstream cells(line);
    std::string cell;
    bool numeric = true;
    while (std::getline(cells, cell, ',')) {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(cell, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || cell.find_first_not_of(" \t", used) != std::string::npos) {
        numeric = false;
        TORCH_CHECK(rows == 0 && cols < 0, "votes file ", path, " line ", n, ": '", cell, "' is not an integer");
        break;
      }
      row.push_back(v);
    }
    if (!numeric) {  // the header: the functions' names
      cols = static_cast<int64_t>(std::count(line.begin(), line.end(), ',')) + 1;
      continue;
    }
    if (cols < 0) cols = static_cast<int64_t>(row.size());
    TORCH_CHECK(static_cast<int64_t>(row.size()) == cols, "votes file ", path, " line ", n, " has ", row.size(),
                " values, the first line ", cols);
    values.insert(values.end(), row.begin(), row.end());
    ++rows;
  }
  TORCH_CHECK(rows > 0, "votes file ", path, " holds no votes");
  return torch::tensor(values, torch::kLong).reshape({rows, cols});
}

nlohmann::json label_model(const LabelModelRequest& r) {
  TORCH_CHECK(!r.out_dir.empty(), "weak label-model needs --out DIR");
  const auto votes = read_votes(r.votes);
  const int64_t k = r.classes > 0 ? r.classes : std::max<int64_t>(2, votes.max().item<int64_t>() + 1);
  const auto fit = weak::fit_label_model(r.model, votes, k, r.class_balance);
  const auto probs = fit.probabilities.to(torch::kFloat);
  const auto covered = (votes >= 0).any(1);
  const auto conf_pred = probs.max(1);
  const auto pred = torch::where(covered, std::get<1>(conf_pred), torch::full_like(std::get<1>(conf_pred), -1));
  nlohmann::json functions = nlohmann::json::array();
  for (int64_t j = 0; j < votes.size(1); ++j) {
    functions.push_back({{"function", j}, {"accuracy", fit.accuracy[j].item<double>()},
                         {"coverage", fit.coverage[j].item<double>()}});
  }
  std::vector<double> balance(fit.class_balance.data_ptr<double>(), fit.class_balance.data_ptr<double>() + k);
  nlohmann::json j{{"model", r.model},
                   {"votes", r.votes},
                   {"examples", votes.size(0)},
                   {"functions", votes.size(1)},
                   {"classes", k},
                   {"covered", covered.to(torch::kDouble).mean().item<double>()},
                   {"class_balance", balance},
                   {"class_balance_given", !r.class_balance.empty()},
                   {"per_function", functions},
                   {"files", {"probabilities.npy", "covered.npy", "predictions.csv", "label_model.json"}}};
  if (!r.labels.empty()) {
    const auto gold = data::parse_npy(detail::read_file(r.labels, "the labels file"), r.labels).to(torch::kLong).flatten();
    TORCH_CHECK(gold.size(0) == votes.size(0), "labels file ", r.labels, " has ", gold.size(0), " labels for ",
                votes.size(0), " examples");
    auto acc = [&](const torch::Tensor& p) { return (p.argmax(1) == gold).to(torch::kDouble).mean().item<double>(); };
    j["label_accuracy"] = acc(fit.probabilities);
    j["majority_vote_accuracy"] = acc(weak::majority_vote(votes, k).probabilities);
  }
  std::error_code ec;
  fs::create_directories(r.out_dir, ec);
  TORCH_CHECK(!ec, "weak label-model: cannot create ", r.out_dir, ": ", ec.message());
  train::write_file_atomic((fs::path(r.out_dir) / "probabilities.npy").string(), data::npy_bytes(probs));
  // Which examples some function voted on: an end model trains on those only (data.soft_labels).
  train::write_file_atomic((fs::path(r.out_dir) / "covered.npy").string(), data::npy_bytes(covered.to(torch::kUInt8)));
  std::ostringstream csv;
  csv << "index,label,confidence\n";
  const auto conf = std::get<0>(conf_pred);
  for (int64_t i = 0; i < votes.size(0); ++i) {
    csv << i << "," << pred[i].item<int64_t>() << "," << conf[i].item<float>() << "\n";
  }
  train::write_file_atomic((fs::path(r.out_dir) / "predictions.csv").string(), csv.str());
  train::write_file_atomic((fs::path(r.out_dir) / "label_model.json").string(), j.dump(2) + "\n");
  return j;
}

nlohmann::json synthetic_votes(const std::string& out_dir, int64_t n, int64_t functions, int64_t classes,
                               double acc_lo, double acc_hi, double cov_lo, double cov_hi, uint64_t seed) {
  TORCH_CHECK(n >= 1 && functions >= 1 && classes >= 2, "weak synthetic: need n >= 1, functions >= 1, classes >= 2");
  TORCH_CHECK(0 <= acc_lo && acc_lo <= acc_hi && acc_hi <= 1, "weak synthetic: accuracies must satisfy 0 <= low <= high <= 1");
  TORCH_CHECK(0 < cov_lo && cov_lo <= cov_hi && cov_hi <= 1, "weak synthetic: coverages must satisfy 0 < low <= high <= 1");
  std::vector<double> acc, cov, balance(classes, 1.0 / classes);
  for (int64_t j = 0; j < functions; ++j) {
    const double f = functions == 1 ? 0.0 : static_cast<double>(j) / (functions - 1);
    acc.push_back(acc_lo + f * (acc_hi - acc_lo));
    // Coverage runs the other way round: the accurate functions are not also the busiest.
    cov.push_back(cov_hi - f * (cov_hi - cov_lo));
  }
  const auto d = weak::synthetic_votes(n, acc, cov, balance, seed);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  TORCH_CHECK(!ec, "weak synthetic: cannot create ", out_dir, ": ", ec.message());
  train::write_file_atomic((fs::path(out_dir) / "votes.npy").string(), data::npy_bytes(d.votes));
  train::write_file_atomic((fs::path(out_dir) / "labels.npy").string(), data::npy_bytes(d.labels));
  return {{"examples", n}, {"functions", functions}, {"classes", classes}, {"accuracy", acc}, {"coverage", cov},
          {"seed", seed}, {"files", {"votes.npy", "labels.npy"}}};
}

namespace {

// Per function: coverage, and the accuracy of its votes against the gold labels (scoring only).
nlohmann::json score_functions(const torch::Tensor& votes, const torch::Tensor& gold,
                               const std::vector<weak::LabelingFunction>& functions) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t j = 0; j < functions.size(); ++j) {
    const auto v = votes.select(1, static_cast<int64_t>(j));
    const auto on = v.ge(0);
    const double covered = on.sum().item<double>();
    out.push_back({{"name", functions[j].name},
                   {"type", functions[j].type},
                   {"coverage", covered / static_cast<double>(v.numel())},
                   {"accuracy", covered > 0 ? v.eq(gold).logical_and(on).sum().item<double>() / covered : 0.0}});
  }
  return out;
}

}  // namespace

nlohmann::json weak_apply(Config cfg, const std::string& out_dir, bool quiet) {
  auto c = detail::setup(cfg);
  const auto& train = c.data.train;
  const auto functions = weak::parse_labeling_functions(cfg.node("functions"), train.classes);
  const auto per_class = cfg.get<int64_t>("weak.seed_per_class", 5);
  TORCH_CHECK(per_class > 0, "weak.seed_per_class must be positive, got ", per_class);
  const auto seed_idx = data::labeled_subset(train.labels, per_class, derive_seed(c.seed, "weak_seed")).labeled;
  const bool need_features =
      std::any_of(functions.begin(), functions.end(), [](const auto& f) { return f.needs_features(); });
  const auto encoder_run = cfg.get<std::string>("weak.encoder", "");
  TORCH_CHECK(!need_features || !encoder_run.empty(),
              "weak.encoder: the prototype and knn functions need a pretrain run's encoder (its folder or checkpoint)");
  torch::Tensor feats_train, feats_test, seed_feats;
  std::optional<detail::LoadedRun> loaded;
  if (need_features) {
    loaded = detail::load_run(train::RunDir::checkpoint_of(encoder_run), detail::configured_threads(cfg),
                              cfg.get<std::string>("device", "cpu"), {});
    TORCH_CHECK(loaded->context.data.train.channels() == train.channels() &&
                    loaded->context.data.train.height() == train.height(),
                "weak.encoder: the encoder takes ", loaded->context.data.train.channels(), "x",
                loaded->context.data.train.height(), " images, the data set has ", train.channels(), "x", train.height());
  }
  cfg.check_all_used();
  if (need_features) {
    const auto encoder = loaded->method->encoder();
    const auto encode = [&](const torch::Tensor& x) { return encoder->forward(x); };
    if (!quiet) std::cerr << "weak apply: features of " << train.size() << " training and " << c.data.test.size() << " test images\n";
    feats_train = eval::extract_features(encode, train.images, loaded->context.norm, c.device).to(torch::kCPU, torch::kFloat);
    feats_test = eval::extract_features(encode, c.data.test.images, loaded->context.norm, c.device).to(torch::kCPU, torch::kFloat);
    seed_feats = feats_train.index_select(0, seed_idx.to(torch::kCPU));
  }
  const auto seed_labels = train.labels.index_select(0, seed_idx).to(torch::kCPU);
  const int64_t k = train.num_classes();
  const auto votes_train = weak::apply_labeling_functions(functions, train.images, feats_train, seed_feats, seed_labels, k);
  const auto votes_test = weak::apply_labeling_functions(functions, c.data.test.images, feats_test, seed_feats, seed_labels, k);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  TORCH_CHECK(!ec, "weak apply: cannot create ", out_dir, ": ", ec.message());
  const auto put = [&](const char* name, const torch::Tensor& t) {
    train::write_file_atomic((fs::path(out_dir) / name).string(), data::npy_bytes(t.contiguous()));
  };
  put("votes_train.npy", votes_train);
  put("votes_test.npy", votes_test);
  put("labels_train.npy", train.labels.to(torch::kCPU));
  put("labels_test.npy", c.data.test.labels.to(torch::kCPU));
  put("seed_indices.npy", seed_idx.to(torch::kCPU));
  const auto covered = [](const torch::Tensor& v) { return v.ge(0).any(1).to(torch::kDouble).mean().item<double>(); };
  nlohmann::json j{{"functions", score_functions(votes_train, train.labels.to(torch::kCPU), functions)},
                   {"functions_test", score_functions(votes_test, c.data.test.labels.to(torch::kCPU), functions)},
                   {"seed_images", seed_idx.size(0)},
                   {"encoder", encoder_run},
                   {"covered_train", covered(votes_train)},
                   {"covered_test", covered(votes_test)},
                   {"classes", train.classes},
                   {"files", {"votes_train.npy", "votes_test.npy", "labels_train.npy", "labels_test.npy", "seed_indices.npy",
                              "apply.json"}}};
  train::write_file_atomic((fs::path(out_dir) / "apply.json").string(), j.dump(1) + "\n");
  return j;
}

}  // namespace selfsup::run
