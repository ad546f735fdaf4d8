// selfsup active | active compare | active strategies
#include <iomanip>
#include <iostream>

#include "commands.h"
#include "run_flags.h"
#include "selfsup/active/strategy.h"
#include "selfsup/run/active.h"

namespace selfsup::cli {
void register_active(CLI::App& app) {
  static RunFlags f;
  static std::string init, oracle;
  auto* active = app.add_subcommand(
      "active", "active learning: rounds of training, querying the pool and revealing labels up to a budget");
  add_run_flags(active, f);
  active->add_option("--init", init, "the pretrain run (its folder or checkpoint) whose encoder the rounds use");
  active->add_option("--oracle", oracle,
                     "simulated (labels from the data set) or files (a person answers each round's query CSV)")
      ->check(CLI::IsMember({"simulated", "files"}));

  static std::vector<std::string> runs;
  static std::string picture;
  auto* compare = active->add_subcommand("compare", "several runs' learning curves: mean and spread per strategy");
  compare->add_option("runs", runs, "active run folders")->required();
  compare->add_option("--out", picture, "the picture to write (PNG)")->required();
  compare->callback([] {
    const auto groups = run::active_compare(runs, picture);
    std::cout << std::left << std::setw(28) << "strategy" << std::setw(6) << "runs" << "area under the curve\n";
    for (const auto& g : groups) {
      std::cout << std::setw(28) << g["name"].get<std::string>() << std::setw(6) << g["runs"].size() << std::fixed
                << std::setprecision(2) << 100 * g["auc_mean"].get<double>() << " +- " << 100 * g["auc_std"].get<double>()
                << "\n";
    }
    std::cout << "wrote " << picture << "\n";
  });

  static std::string strategy_name;
  auto* list = active->add_subcommand("strategies", "list the query strategies, or one strategy's config keys");
  list->add_option("name", strategy_name, "a strategy: print its config keys and defaults");
  list->callback([] {
    const auto& registry = active::StrategyRegistry::instance();
    if (!strategy_name.empty()) {
      const auto& s = registry.get(strategy_name);
      std::cout << s.name << ": " << s.help << (s.needs_model ? "" : " (also a cold start)") << "\n";
      for (const auto& k : s.keys.list()) {
        std::cout << "  " << k.key << ": " << format_default(k.default_value) << "  # " << k.help << "\n";
      }
      return;
    }
    for (const auto& name : registry.list()) {
      const auto& s = registry.get(name);
      std::cout << std::left << std::setw(18) << name << s.help << (s.needs_model ? "" : " (also a cold start)") << "\n";
    }
  });

  active->callback([active, compare, list] {
    if (compare->parsed() || list->parsed()) return;
    const auto ro = start_run(f, "active");
    const auto summary = run::active(f.resume ? Config() : resolve_config(f), ro, init, oracle);
    std::cout << summary.dump(2) << std::endl;
    (void)active;
  });
}
}  // namespace selfsup::cli
