// selfsup report: one self-contained HTML page of one or more run folders.
#include <iostream>

#include "commands.h"
#include "selfsup/core/progress.h"
#include "selfsup/run/report.h"

namespace selfsup::cli {
void register_report(CLI::App& app) {
  static std::vector<std::string> runs;
  static std::string out = "report.html", map = run::ReportOptions().map(), device;
  static int64_t points = run::ReportOptions().points();
  static int threads = 0;
  static bool quiet = false;
  auto* cmd = app.add_subcommand(
      "report", "write one HTML page of run folders: curves (several runs overlaid), summary, embedding map, "
                "per-class accuracy, pictures, config");
  cmd->add_option("runs", runs, "run folders")->required();
  cmd->add_option("--out", out, "the HTML file to write")->capture_default_str();
  cmd->add_option("--map", map, "the test embeddings' map: tsne, pca or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"tsne", "pca", "none"}));
  cmd->add_option("--points", points, "test images on the map")->capture_default_str();
  cmd->add_option("--threads", threads, "intra-op threads (default: all cores)");
  cmd->add_option("--device", device, "cpu, cuda or cuda:N (default: the device each run trained on)");
  cmd->add_flag("--quiet", quiet, "no progress lines");
  cmd->callback([] {
    set_progress_enabled(!quiet);
    const auto j = run::report(runs, out,
                               run::ReportOptions().map(map).points(points).threads(threads).device(device));
    std::cout << j.dump(2) << std::endl;
  });
}
}  // namespace selfsup::cli
