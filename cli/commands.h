#pragma once
#include <CLI/CLI.hpp>

namespace selfsup::cli {
// Each subcommand file defines one register_* function; callbacks run inside app.parse so that
// main() catches every error in one place.
void register_all(CLI::App& app);
void register_data(CLI::App& app);      // cli/data.cpp: selfsup data info
void register_augment(CLI::App& app);   // cli/augment.cpp: selfsup augment preview
void register_train(CLI::App& app);     // cli/train.cpp: pretrain, semi, pu, prune, eval, methods
void register_weights(CLI::App& app);   // cli/weights.cpp: export, embed
void register_report(CLI::App& app);    // cli/report.cpp: report
void register_active(CLI::App& app);    // cli/active.cpp: active, active compare, active strategies
void register_weak(CLI::App& app);      // cli/weak.cpp: weak label-model, weak synthetic
void register_denoise(CLI::App& app);   // cli/denoise.cpp: denoise train, apply, eval
void register_tune(CLI::App& app);      // cli/tune.cpp: tune
void register_cotrain(CLI::App& app);   // cli/cotrain.cpp: cotrain
void register_text(CLI::App& app);      // cli/text.cpp: text tokenizer, corpus, train, embed, similar, eval
}  // namespace selfsup::cli
