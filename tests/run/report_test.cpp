// The report page's data (run/report.h), read back out of the HTML: metrics as columns with gaps
// where a line lacks a key, the classifier's figures from the summary, notes for what a run lacks,
// a map of the test embeddings with one point per drawn image, and text that cannot end the
// page's script early. The page in a browser is tests/cli/report.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "selfsup/run/pretrain.h"
#include "selfsup/run/report.h"
#include "support/error_of.h"

using namespace selfsup;
using selfsup::testing::error_of;
namespace fs = std::filesystem;

namespace {

std::string report_dir(const std::string& name) {
  auto d = fs::path(::testing::TempDir()) / ("selfsup_report_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The JSON the page carries, undoing the "<\/" escape (JSON reads "\/" as "/" anyway).
nlohmann::json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const auto begin = html.find(open);
  EXPECT_NE(begin, std::string::npos);
  const auto end = html.find("</script>", begin);
  return nlohmann::json::parse(html.substr(begin + open.size(), end - begin - open.size()));
}

}  // namespace

TEST(Report, MetricsBecomeColumnsAndTheSummaryGivesTheClassifierFigures) {
  const auto dir = report_dir("columns");
  write(fs::path(dir) / "config.yaml", "method: {name: fixmatch}\nnote: \"</script><b>\"\n");
  write(fs::path(dir) / "metrics.jsonl",
        "{\"step\": 10, \"loss\": 2.5, \"lr\": 0.1}\n"
        "{\"step\": 20, \"loss\": 2.0, \"lr\": 0.09, \"val_acc\": 0.5, \"tag\": \"x\"}\n"
        "{\"step\": 30, \"loss\": 1.5, \"lr\": 0.08}\n");
  write(fs::path(dir) / "summary.json",
        R"({"method": "fixmatch", "test_acc": 0.8, "test_acc_ema_per_class": [1.0, 0.5],
            "test_confusion_ema": [[2, 0], [1, 1]], "test_acc_per_class": [0.0, 0.0]})");
  const auto out = dir + "/page.html";
  const auto j = run::report({dir}, out, run::ReportOptions().map("none"));
  EXPECT_EQ(j.at("file"), out);
  const auto html = slurp(out);
  // The config's "</script>" arrives escaped, so the page's script element is not cut short.
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  EXPECT_EQ(html.find("/*REPORT_DATA*/"), std::string::npos);
  EXPECT_EQ(html.find("/*CHART_JS*/"), std::string::npos);
  EXPECT_NE(html.find("Chart"), std::string::npos);

  const auto data = page_data(html);
  ASSERT_EQ(data.at("runs").size(), 1u);
  const auto& r = data.at("runs")[0];
  EXPECT_EQ(r.at("name"), "selfsup_report_columns");
  EXPECT_NE(r.at("config").get<std::string>().find("</script><b>"), std::string::npos);
  const auto& m = r.at("metrics");
  EXPECT_EQ(m.at("step"), nlohmann::json({10, 20, 30}));
  EXPECT_EQ(m.at("loss"), nlohmann::json({2.5, 2.0, 1.5}));
  EXPECT_EQ(m.at("val_acc"), nlohmann::json({nullptr, 0.5, nullptr}));
  EXPECT_FALSE(m.contains("tag"));  // not a number: no curve
  // The EMA model's figures win over the plain model's; class names fall back to numbers.
  const auto& c = r.at("classifier");
  EXPECT_EQ(c.at("per_class"), nlohmann::json({1.0, 0.5}));
  EXPECT_EQ(c.at("confusion"), nlohmann::json({{2, 0}, {1, 1}}));
  EXPECT_EQ(c.at("classes"), nlohmann::json({"0", "1"}));
  EXPECT_EQ(c.at("source"), "EMA model, test set");
  EXPECT_FALSE(r.contains("map"));
  ASSERT_EQ(r.at("notes").size(), 1u);
  EXPECT_NE(r.at("notes")[0].get<std::string>().find("no last.ckpt"), std::string::npos);
}

TEST(Report, ARunStillWritingIsShownAndDamageIsRefused) {
  const auto dir = report_dir("partial");
  write(fs::path(dir) / "config.yaml", "method: {name: simclr}\n");
  write(fs::path(dir) / "metrics.jsonl", "{\"step\": 1, \"loss\": 3.0}\n{\"step\": 2, \"lo");
  const auto data = page_data(slurp(run::report({dir}, dir + "/a.html", run::ReportOptions().map("none")).at("file")));
  const auto& r = data.at("runs")[0];
  EXPECT_EQ(r.at("metrics").at("loss"), nlohmann::json({3.0}));
  const auto notes = r.at("notes").dump();
  EXPECT_NE(notes.find("incomplete"), std::string::npos) << notes;
  EXPECT_NE(notes.find("no summary.json"), std::string::npos) << notes;

  write(fs::path(dir) / "metrics.jsonl", "{\"step\": 1}\n[1, 2]\n{\"step\": 3}\n");
  EXPECT_NE(error_of([&] { run::report({dir}, dir + "/b.html"); }).find("metrics.jsonl line 2 is not a JSON object"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/b.html"));
  const auto empty = report_dir("empty");
  EXPECT_NE(error_of([&] { run::report({empty}, empty + "/c.html"); }).find("is not a run folder (it has no config.yaml)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { run::report({dir}, dir + "/d.html", run::ReportOptions().map("umap")); })
                .find("report.map must be tsne, pca or none, got 'umap'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { run::report({}, dir + "/e.html"); }).find("at least one run folder"), std::string::npos);
}

TEST(Report, ATrainedRunWritesItsOwnPageWithAMapOfTheDrawnTestImages) {
  const auto dir = report_dir("trained");
  fs::remove_all(dir);
  auto cfg = Config::parse(R"(
method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
data: {name: fashion-mnist, limit: 256}
model: {backbone: convnet, channels: [8, 16]}
train: {batch_size: 32, max_steps: 3, threads: 1, log_every_steps: 1}
eval: {protocols: [knn], knn_k: 5}
report: {map: pca, points: 40}
seed: 4
)");
  run::RunOptions ro;
  ro.out_dir = dir;
  ro.quiet = true;
  run::pretrain(cfg, ro);
  const auto own = page_data(slurp(dir + "/report.html")).at("runs")[0];
  const auto& map = own.at("map");
  EXPECT_EQ(map.at("method"), "pca");
  ASSERT_EQ(map.at("x").size(), 40u);
  EXPECT_EQ(map.at("label").size(), 40u);
  EXPECT_EQ(map.at("classes").size(), 10u);
  EXPECT_EQ(map.at("sprite").get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  EXPECT_EQ(own.at("metrics").at("step"), nlohmann::json({1, 2, 3}));
  EXPECT_EQ(own.at("pictures").size(), 1u);  // the augmented views
  // The same run through `selfsup report` (checkpoint loaded) gives the same map.
  const auto again = page_data(slurp(run::report({dir}, dir + "/again.html", run::ReportOptions().map("pca").points(40))
                                         .at("file")))
                         .at("runs")[0];
  EXPECT_EQ(again.at("map").at("index"), map.at("index"));
  const auto x0 = own.at("map").at("x").get<std::vector<double>>(), x1 = again.at("map").at("x").get<std::vector<double>>();
  for (size_t i = 0; i < x0.size(); ++i) EXPECT_NEAR(x0[i], x1[i], 1e-3 * (1 + std::abs(x0[i])));
}
