#pragma once
// A run's report: one self-contained HTML page (Chart.js inlined, no network) with its training
// curves, its summary, a 2-D map of its test embeddings with the image under the pointer, a
// classifier's per-class accuracy and confusion matrix, its pictures (augmented views, a masked
// autoencoder's reconstructions) and its config. Several runs overlay their curves on shared
// axes. `selfsup report` writes one for any run folders; every training command, and an active
// learning loop (its accuracy against the labeled images), writes one into its own folder.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "selfsup/core/config.h"

namespace selfsup::run {

struct ReportOptions {
  /// report.map and report.points of a run's config, the defaults below where absent; refuses a
  /// value outside their range, naming it.
  static ReportOptions from_config(const Config& cfg);
  void validate() const;

  /// The test embeddings' map: tsne, pca or none.
  TORCH_ARG(std::string, map) = "tsne";
  /// How many test images the map shows (a fixed draw, the same for every run of one seed).
  TORCH_ARG(int64_t, points) = 2000;
  /// Intra-op threads for the map's features (0: all cores).
  TORCH_ARG(int, threads) = 0;
  /// Device for the map's features ("": the one the run trained on).
  TORCH_ARG(std::string, device) = "";
};

/// Writes the report of the run folders `runs` to `out` (atomically) and returns
/// {file, runs, bytes}. A folder without config.yaml is refused; a run without a checkpoint or a
/// summary (still running, or stopped) is shown with what it has and a note saying what is missing.
nlohmann::json report(const std::vector<std::string>& runs, const std::string& out, const ReportOptions& options = {});

}  // namespace selfsup::run
