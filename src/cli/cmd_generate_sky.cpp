// `lodestar generate-sky`: write the reproducible synthetic sky as Parquet.
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/progress_bar.hpp"
#include "engine/synthetic_writer.hpp"

namespace lodestar::cli {
namespace {

struct GenerateOptions {
  std::string out;
  int64_t rows = 1'000'000;
  int64_t rows_per_file = 1'000'000;
  uint64_t seed = 42;
  bool no_progress = false;
};

int run_generate(const GlobalOptions& g, const GenerateOptions& o) {
  Engine engine(g.engine_options());
  SyntheticWriteOptions options;
  options.rows = o.rows;
  options.rows_per_file = o.rows_per_file;
  options.spec.seed = o.seed;
  ProgressBar bar("generate", o.rows, !o.no_progress && progress_wanted());
  options.on_progress = [&](int64_t done) { bar.update(done); };
  const auto start = std::chrono::steady_clock::now();
  write_synthetic_sky(engine, o.out, options);
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << o.rows << " synthetic sources (seed " << o.seed << ") to " << o.out << " in " << seconds << " s\n";
  return 0;
}

const CommandRegistrar registrar(
    "generate-sky",
    "Write a reproducible synthetic sky catalog (uniform sky plus clusters; columns source_id, ra,\n"
    "dec, mag_g, mag_r, mag_err) as Parquet files in a new folder. Same seed, same rows.",
    90, [](CLI::App& app, const GlobalOptions& g) -> Action {
      auto o = std::make_shared<GenerateOptions>();
      app.add_option("out", o->out, "Output folder (must not exist)")->required();
      app.add_option("--rows", o->rows, "Number of sources")->check(CLI::NonNegativeNumber);
      app.add_option("--rows-per-file", o->rows_per_file, "Rows per Parquet file")->check(CLI::PositiveNumber);
      app.add_option("--seed", o->seed, "Random seed");
      app.add_flag("--no-progress", o->no_progress, "Do not draw a progress bar");
      return [o, &g] { return run_generate(g, *o); };
    });

}  // namespace
}  // namespace lodestar::cli
