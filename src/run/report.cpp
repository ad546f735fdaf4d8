#include "selfsup/run/report.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common.h"
#include "report_assets.h"
#include "selfsup/augment/png.h"
#include "selfsup/core/progress.h"
#include "selfsup/core/runtime.h"
#include "selfsup/dist/dist.h"
#include "selfsup/eval/embedding_map.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/methods/pu.h"
#include "selfsup/methods/semi.h"
#include "selfsup/train/semi_loader.h"

namespace selfsup::run {

namespace fs = std::filesystem;

ReportOptions ReportOptions::from_config(const Config& cfg) {
  ReportOptions o;
  o.map(cfg.get<std::string>("report.map", o.map()));
  o.points(cfg.get<int64_t>("report.points", o.points()));
  o.validate();
  return o;
}

void ReportOptions::validate() const {
  TORCH_CHECK(map() == "tsne" || map() == "pca" || map() == "none", "report.map must be tsne, pca or none, got '", map(),
              "'");
  TORCH_CHECK(points() >= 10 && points() <= 10000, "report.points must be in [10, 10000], got ", points());
}

namespace {

const char* const kRunColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (two ? uint8_t(bytes[i + 1]) << 8 : 0);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += two ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_uri(const std::string& png) { return "data:image/png;base64," + base64(png); }

std::string read_file(const fs::path& p) { return detail::read_file(p.string(), "the run's file"); }

/// metrics.jsonl as columns (one array per key, null where a line lacks it), so that every logged
/// number becomes a curve. A run killed while appending leaves a partial last line: it is skipped
/// with a note; a malformed line before the last is an error naming it.
nlohmann::json read_metrics(const fs::path& path, std::vector<std::string>& notes) {
  nlohmann::json columns = nlohmann::json::object();
  if (!fs::exists(path)) {
    notes.push_back("no metrics.jsonl: the run logged no step");
    return columns;
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  int64_t rows = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      TORCH_CHECK(i + 1 == lines.size(), "report: ", path.string(), " line ", i + 1, " is not a JSON object");
      notes.push_back("the last line of metrics.jsonl is incomplete (the run stopped while writing it) and is left out");
      break;
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_number()) continue;
      auto& col = columns[it.key()];
      if (col.is_null()) col = nlohmann::json::array();
      while (static_cast<int64_t>(col.size()) < rows) col.push_back(nullptr);
      col.push_back(it.value());
    }
    ++rows;
  }
  for (auto& col : columns)
    while (static_cast<int64_t>(col.size()) < rows) col.push_back(nullptr);
  return columns;
}

/// The classifier's figures a summary carries (semi, pu): the EMA model's per-class accuracy and
/// confusion matrix on the test set, else the plain model's.
nlohmann::json classifier_of(const nlohmann::json& summary, const std::vector<std::string>& classes) {
  for (const char* which : {"ema", ""}) {
    const std::string suffix = *which ? std::string("_") + which : "";
    const auto per_class = summary.find("test_acc" + suffix + "_per_class");
    if (per_class == summary.end() || !per_class->is_array()) continue;
    nlohmann::json c{{"per_class", *per_class},
                     {"source", std::string(*which ? "EMA model" : "model") + ", test set"},
                     {"confusion", summary.value("test_confusion" + suffix, nlohmann::json())}};
    std::vector<std::string> names = classes;
    while (names.size() < per_class->size()) names.push_back(std::to_string(names.size()));
    names.resize(per_class->size());
    c["classes"] = names;
    return c;
  }
  return nullptr;
}

/// The 2-D map of the encoder's features of a fixed draw of test images, with a sprite of those
/// images for the picture under the pointer.
nlohmann::json map_of(const std::function<torch::Tensor(const torch::Tensor&)>& encode, const data::Dataset& test,
                      const train::Normalization& norm, torch::Device device, const ReportOptions& o, uint64_t seed,
                      const std::string& what) {
  auto gen = make_generator(derive_seed(seed, "report-map"));
  const int64_t n = std::min(o.points(), test.size());
  const auto index = std::get<0>(torch::randperm(test.size(), gen, torch::kLong).narrow(0, 0, n).sort());
  const auto images = test.images.index_select(0, index);
  const auto labels = test.labels.index_select(0, index);
  const auto features = eval::extract_features(encode, images, norm, device).to(torch::kCPU, torch::kFloat64);
  TORCH_CHECK(torch::isfinite(features).all().item<bool>(), "report: the encoder's features of the test images hold NaN or "
              "infinite values");
  torch::Tensor xy;
  if (o.map() == "pca") {
    xy = eval::pca(features, 2);
  } else {
    const auto options = eval::TsneOptions().perplexity(std::min(30.0, (n - 1) / 3.0));
    Progress p("report: t-SNE of " + std::to_string(n) + " points", options.iterations());
    xy = eval::tsne(features, options, [&](int64_t) { p.advance(); });
    p.done();
  }
  const auto xs = xy.select(1, 0).to(torch::kFloat32).contiguous(), ys = xy.select(1, 1).to(torch::kFloat32).contiguous();
  const int64_t columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  return {{"method", o.map()},
          {"features", what + ", " + std::to_string(features.size(1)) + "-d"},
          {"x", std::vector<float>(xs.data_ptr<float>(), xs.data_ptr<float>() + n)},
          {"y", std::vector<float>(ys.data_ptr<float>(), ys.data_ptr<float>() + n)},
          {"label", std::vector<int64_t>(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + n)},
          {"index", std::vector<int64_t>(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + n)},
          {"classes", test.classes},
          {"sprite", png_uri(augment::encode_png_grid(images, columns))},
          {"columns", columns},
          {"gap", 2},
          {"cell_width", test.width()},
          {"cell_height", test.height()}};
}

/// The views the run's method trains on, applied to a few training images.
std::string views_picture(const Config& cfg, const methods::MethodImpl& method, const data::Dataset& train,
                          uint64_t seed) {
  augment::ViewSet views;
  const auto* semi = dynamic_cast<const methods::SemiMethodImpl*>(&method);
  const auto* pu = dynamic_cast<const methods::PuMethodImpl*>(&method);
  if (semi || pu) {
    auto v = train::semi_views_from_config(cfg, semi ? semi->unlabeled_views() : pu->unlabeled_views(), train.height(),
                                           train.channels());
    views = v.labeled;
    for (size_t i = 0; i < v.unlabeled.size(); ++i) views.add(v.unlabeled.names()[i], v.unlabeled.pipeline(i));
  } else {
    views = train::views_from_config(cfg, train.channels(), train.height(), method.num_views());
  }
  auto gen = make_generator(derive_seed(seed, "report-views"));
  const auto images = train.head(8).images;
  const int64_t scale = std::max<int64_t>(1, 64 / train.height());
  return augment::encode_png_grid(views.preview(images, gen), static_cast<int64_t>(views.size()) + 1, scale);
}

struct Loaded {
  const Config* cfg;
  const detail::Context* context;
  methods::MethodImpl* method;
};

/// Everything the page shows of one run folder; `loaded` is the run's model when the caller holds
/// it (a run writing its own report), else the checkpoint is loaded here.
nlohmann::json page_of(const fs::path& dir, const std::string& name, const std::string& colour, const ReportOptions& o,
                       const Loaded* loaded) {
  TORCH_CHECK(fs::is_directory(dir), "report: ", dir.string(), " is not a folder");
  const fs::path config = dir / "config.yaml";
  TORCH_CHECK(fs::exists(config), "report: ", dir.string(), " is not a run folder (it has no config.yaml)");
  std::vector<std::string> notes;
  nlohmann::json page{{"name", name}, {"path", dir.string()}, {"colour", colour}, {"config", read_file(config)}};
  page["metrics"] = read_metrics(dir / "metrics.jsonl", notes);
  nlohmann::json summary = nlohmann::json::object();
  if (fs::exists(dir / "summary.json")) {
    summary = nlohmann::json::parse(read_file(dir / "summary.json"), nullptr, false);
    TORCH_CHECK(!summary.is_discarded() && summary.is_object(), "report: ", (dir / "summary.json").string(),
                " is not a JSON object");
  } else {
    notes.push_back("no summary.json: the run has not finished (or was stopped before its evaluation)");
  }
  page["summary"] = summary;
  nlohmann::json pictures = nlohmann::json::array();

  std::optional<detail::LoadedRun> own;
  std::optional<Config> own_cfg;
  if (!loaded && fs::exists(dir / "last.ckpt")) {
    try {
      own = detail::load_run((dir / "last.ckpt").string(), o.threads(), o.device(), {});
      own_cfg = Config::parse(own->state.config_yaml, (dir / "last.ckpt").string());
    } catch (const c10::Error& e) {
      notes.push_back(std::string("the checkpoint could not be loaded, so there is no map and no views: ") +
                      e.what_without_backtrace());
    }
  } else if (!loaded && !fs::exists(train::RunDir::curve_of(dir.string()))) {
    // An active learning loop keeps no model of its own: nothing is missing from its page.
    notes.push_back("no last.ckpt: no map of the embeddings and no views");
  }
  Loaded from_checkpoint{own_cfg ? &*own_cfg : nullptr, own ? &own->context : nullptr, own ? own->method.get() : nullptr};
  const Loaded* l = loaded ? loaded : (own && own_cfg ? &from_checkpoint : nullptr);
  std::vector<std::string> classes;
  if (l) {
    const auto& c = *l->context;
    classes = c.data.test.classes;
    try {
      pictures.push_back({{"title", "Augmented views (each row: a training image, then its views)"},
                          {"src", png_uri(views_picture(*l->cfg, *l->method, c.data.train, c.seed))}});
    } catch (const c10::Error& e) {
      notes.push_back(std::string("no picture of the views: ") + e.what_without_backtrace());
    }
    if (o.map() != "none") {
      l->method->eval();
      const auto encoder = l->method->encoder();
      torch::NoGradGuard no_grad;
      page["map"] = map_of([&](const torch::Tensor& x) { return encoder->forward(x); }, c.data.test, c.norm, c.device, o,
                           c.seed, "encoder output");
    }
  }
  if (fs::exists(dir / "reconstructions.png"))
    pictures.push_back({{"title", "Reconstructions (rows: original, masked input, reconstruction, with the visible "
                                  "patches pasted back)"},
                        {"src", png_uri(read_file(dir / "reconstructions.png"))}});
  page["pictures"] = pictures;
  page["classifier"] = classifier_of(summary, classes);
  page["notes"] = notes;
  return page;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

void replace_once(std::string& s, const std::string& what, const std::string& with) {
  const auto at = s.find(what);
  TORCH_CHECK(at != std::string::npos, "report: the page template lacks ", what);
  s.replace(at, what.size(), with);
}

std::string html_of(const nlohmann::json& pages) {
  nlohmann::json data{{"written", utc_now()}, {"version", report_assets::version()}, {"chart_js", report_assets::chart_js_source()}, {"runs", pages}};
  std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Inside <script>, "</" could end the element early; JSON allows "<\/" for it.
  for (size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3)) json.insert(at + 1, "\\");
  std::string html = report_assets::page_template();
  // Data after the library: the template's placeholder for it comes later in the page.
  replace_once(html, "/*CHART_JS*/", report_assets::chart_js());
  const auto at = html.rfind("/*REPORT_DATA*/");
  TORCH_CHECK(at != std::string::npos, "report: the page template lacks its data placeholder");
  html.replace(at, std::string("/*REPORT_DATA*/").size(), json);
  return html;
}

std::vector<std::string> names_of(const std::vector<std::string>& runs) {
  std::vector<std::string> names;
  for (const auto& r : runs) {
    auto p = fs::path(r);
    if (p.filename().empty()) p = p.parent_path();
    names.push_back(p.filename().string());
  }
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < names.size(); ++j)
      if (i != j && names[i] == names[j]) names[i] = runs[i];  // two folders of one name: their paths
  return names;
}

// The page of the run in `dir` written into it, by the main process of a run that has a folder.
// The run is complete and its summary written by now: a page that cannot be drawn must not fail
// it, so this warns instead of throwing.
void write_page(const train::RunDir& dir, const ReportOptions& o, const Loaded* loaded) {
  if (dir.empty() || !dist::is_main()) return;
  try {
    const auto page = page_of(dir.path(), names_of({dir.path()})[0], kRunColours[0], o, loaded);
    dir.write_report(html_of(nlohmann::json::array({page})));
  } catch (const c10::Error& e) {
    std::cerr << "warning: no report.html (" << e.what_without_backtrace() << "); `selfsup report " << dir.path()
              << "` tries again\n";
  }
}

}  // namespace

nlohmann::json report(const std::vector<std::string>& runs, const std::string& out, const ReportOptions& o) {
  o.validate();
  TORCH_CHECK(!runs.empty(), "report needs at least one run folder");
  TORCH_CHECK(!out.empty(), "report needs --out FILE");
  const auto names = names_of(runs);
  nlohmann::json pages = nlohmann::json::array();
  for (size_t i = 0; i < runs.size(); ++i)
    pages.push_back(page_of(runs[i], names[i], kRunColours[i % std::size(kRunColours)], o, nullptr));
  const std::string html = html_of(pages);
  train::write_file_atomic(out, html);
  return {{"file", out}, {"runs", runs}, {"bytes", html.size()}};
}

namespace detail {

void write_report(const train::RunDir& dir, const Config& cfg, const Context& c, methods::MethodImpl& method,
                  const ReportOptions& options, const RunOptions& ro) {
  const bool map = ro.evaluate && !train::stop_requested();
  const auto o = map ? options : ReportOptions(options).map("none");
  const Loaded loaded{&cfg, &c, &method};
  write_page(dir, o, &loaded);
}

void write_report(const train::RunDir& dir) {
  write_page(dir, ReportOptions().map("none"), nullptr);
}

}  // namespace detail

}  // namespace selfsup::run
