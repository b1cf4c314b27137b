#include "catalog/ingest.hpp"

#include <glob.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <thread>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "catalog/fits_table.hpp"
#include "catalog/hats_catalog.hpp"
#include "catalog/ingest_stream.hpp"
#include "catalog/pixel_counter.hpp"
#include "catalog/skymap_fits.hpp"
#include "engine/engine.hpp"
#include "engine/parquet_format.hpp"
#include "engine/sql_text.hpp"
#include "lodestar_version.hpp"

namespace fs = std::filesystem;

namespace lodestar {

const std::vector<std::string>& ra_column_candidates() {
  static const std::vector<std::string> c = {"ra",      "ra_deg",   "radeg",           "raj2000",
                                             "ra_icrs", "ra_j2000", "right_ascension", "alpha"};
  return c;
}
const std::vector<std::string>& dec_column_candidates() {
  static const std::vector<std::string> c = {"dec",      "decl",    "dec_deg",  "dedeg",     "decdeg",      "dej2000",
                                             "decj2000", "de_icrs", "dec_icrs", "dec_j2000", "declination", "delta"};
  return c;
}

namespace {

enum class Format { Csv, Parquet, Fits };

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Format format_of(const std::string& path) {
  std::string p = lower(path);
  for (const char* z : {".gz", ".zst", ".bz2"})
    if (ends_with(p, z)) p = p.substr(0, p.size() - std::strlen(z));
  if (ends_with(p, ".parquet") || ends_with(p, ".pq") || ends_with(p, ".parq")) return Format::Parquet;
  if (ends_with(p, ".fits") || ends_with(p, ".fit") || ends_with(p, ".fts")) return Format::Fits;
  if (ends_with(p, ".csv") || ends_with(p, ".tsv") || ends_with(p, ".txt") || ends_with(p, ".dat")) return Format::Csv;
  throw Error(path + ": unknown input format (expected .csv/.tsv, .parquet or .fits, optionally compressed .gz)");
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) {
  std::vector<std::string> files;
  for (const auto& pattern : patterns) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
    }
    globfree(&g);
    if (rc != 0) throw Error("input not found: " + pattern);
  }
  if (files.empty()) throw Error("no input files given");
  std::set<std::string> seen;
  std::vector<std::string> unique;
  for (auto& f : files) {
    if (fs::is_directory(f)) throw Error(f + ": is a folder; give the files (a glob such as '" + f + "/*.csv' works)");
    if (!fs::is_regular_file(f)) throw Error("input not found: " + f);
    if (fs::file_size(f) == 0) throw Error(f + ": the file is empty (expected a header row and data)");
    if (seen.insert(f).second) unique.push_back(fs::absolute(f).string());
  }
  return unique;
}

std::string list_literal(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + sql_string_literal(i);
  return "[" + s + "]";
}

struct Column {
  std::string name, type;
};

std::vector<Column> describe(duckdb_connection con, const std::string& relation) {
  QueryResult r = run_query(con, "DESCRIBE SELECT * FROM " + relation);
  std::vector<Column> cols;
  for (idx_t i = 0; i < duckdb_row_count(r.raw()); ++i) {
    char* n = duckdb_value_varchar(r.raw(), 0, i);
    char* t = duckdb_value_varchar(r.raw(), 1, i);
    cols.push_back({n, t});
    duckdb_free(n);
    duckdb_free(t);
  }
  return cols;
}

std::string pick_column(const std::vector<Column>& cols, const std::string& given, const std::vector<std::string>& candidates,
                        const char* what, const std::string& inputs) {
  std::string names;
  for (const auto& c : cols) names += (names.empty() ? "" : ", ") + c.name;
  if (!given.empty()) {
    for (const auto& c : cols)
      if (c.name == given) return c.name;
    throw Error(inputs + ": no " + what + " column named '" + given + "' (columns: " + names + ")");
  }
  for (const auto& cand : candidates)
    for (const auto& c : cols)
      if (lower(c.name) == cand) return c.name;
  throw Error(inputs + ": no " + what + " column recognised (looked for " + candidates.front() + ", " + candidates[1] +
              ", ...; columns: " + names + "); name it explicitly");
}

bool numeric_type(const std::string& t) {
  static const std::vector<std::string> ok = {"DOUBLE",  "FLOAT",   "REAL",     "INTEGER", "BIGINT",    "SMALLINT",
                                              "TINYINT", "HUGEINT", "UINTEGER", "UBIGINT", "USMALLINT", "UTINYINT"};
  return std::find(ok.begin(), ok.end(), t) != ok.end() || t.rfind("DECIMAL", 0) == 0;
}

std::string first_cell(duckdb_connection con, const std::string& sql) {
  QueryResult r = run_query(con, sql);
  if (duckdb_row_count(r.raw()) == 0) return "";
  std::string out;
  for (idx_t c = 0; c < r.column_count(); ++c) {
    char* v = duckdb_value_varchar(r.raw(), c, 0);
    out += (c ? "\x1f" : "") + std::string(v ? v : "NULL");
    duckdb_free(v);
  }
  return out;
}

std::vector<std::string> split_cells(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '\x1f') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// Runs `work` (a query on `con`) while a poller reports DuckDB's progress of it.
void with_progress(duckdb_connection con, const std::function<void(double, int64_t)>& report, const std::function<void()>& work) {
  if (!report) return work();
  // Progress tracking is a per-connection setting; never printed by DuckDB itself.
  run_query(con, "SET enable_progress_bar = true; SET enable_progress_bar_print = false");
  // The poller waits on a condition variable, not a plain sleep, so that the
  // end of the query wakes it at once (a sleep would add up to a poll period
  // to every phase).
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread poller([&] {
    std::unique_lock<std::mutex> lock(m);
    while (!cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; })) {
      lock.unlock();
      const duckdb_query_progress_type p = duckdb_query_progress(con);
      if (p.percentage >= 0) report(p.percentage / 100.0, static_cast<int64_t>(p.rows_processed));
      lock.lock();
    }
  });
  auto stop = [&] {
    {
      std::lock_guard<std::mutex> lock(m);
      done = true;
    }
    cv.notify_all();
    poller.join();
  };
  try {
    work();
    stop();
  } catch (...) {
    stop();
    throw;
  }
}

// `sql` as a streaming result: run until its first rows can be fetched, then
// fetched chunk by chunk, nothing materialized.
QueryResult run_streaming(duckdb_connection con, const std::string& sql) {
  auto fail = [](const char* what) { return Error(what ? what : "query failed"); };
  duckdb_prepared_statement stmt = nullptr;
  if (duckdb_prepare(con, sql.c_str(), &stmt) == DuckDBError) {
    const Error e = fail(duckdb_prepare_error(stmt));
    duckdb_destroy_prepare(&stmt);
    throw e;
  }
  duckdb_pending_result pending = nullptr;
  const duckdb_state pstate = duckdb_pending_prepared_streaming(stmt, &pending);
  duckdb_destroy_prepare(&stmt);
  if (pstate == DuckDBError) {
    const Error e = fail(duckdb_pending_error(pending));
    duckdb_destroy_pending(&pending);
    throw e;
  }
  QueryResult r;
  const duckdb_state state = duckdb_execute_pending(pending, r.raw());
  r.mark_valid();
  duckdb_destroy_pending(&pending);
  if (state == DuckDBError) throw fail(duckdb_result_error(r.raw()));
  return r;
}

int64_t rows_written(QueryResult& r) { return duckdb_value_int64(r.raw(), 0, 0); }

// Bytes of a DuckDB memory size ("2GB", "512 MiB", "1000000B"), or nullopt.
std::optional<int64_t> parse_memory_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = lower(text.substr(used));
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  static const std::map<std::string, double> units = {
      {"", 1},     {"b", 1},     {"byte", 1},     {"bytes", 1},       {"kb", 1e3},           {"mb", 1e6},
      {"gb", 1e9}, {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  const auto it = units.find(unit);
  if (it == units.end() || !(value > 0)) return std::nullopt;
  return static_cast<int64_t>(value * it->second);
}

// Rough bytes per row of a column type in DuckDB's vectors, for the bound on
// the rows queued between the sorted stream and the leaf writers.
int64_t value_bytes(duckdb_logical_type type) {
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_UTINYINT:
      return 1;
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_USMALLINT:
      return 2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DATE:
      return 4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_TIMESTAMP:
      return 8;
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
      return 16;
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
      return 48;  // the 16-byte string header and a short text
    default:
      return 128;  // lists, structs, maps: a guess
  }
}

// The staging folder of an ingest: <root>/.ingest-<name>-<pid>. Stale ones of
// killed ingests (their pid is gone) are removed before a new run.
std::string staging_dir(const std::string& root, const std::string& name) {
  const std::string prefix = ".ingest-" + name + "-";
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = n.substr(prefix.size());
    try {
      const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
      if (pid != getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path());
    } catch (const std::exception&) {
    }
  }
  return root + "/" + prefix + std::to_string(getpid());
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MUTC", std::gmtime(&t));
  return buf;
}

std::string leaf_path(const std::string& dataset, int order, int64_t pixel) {
  return dataset + "/Norder=" + std::to_string(order) + "/Dir=" + std::to_string((pixel / 10000) * 10000) +
         "/Npix=" + std::to_string(pixel) + ".parquet";
}

class Ingest {
 public:
  explicit Ingest(const IngestOptions& o) : o_(o) {}

  IngestReport run() {
    const auto start = std::chrono::steady_clock::now();
    validate_options();
    files_ = expand_inputs(o_.inputs);
    format_ = format_of(files_.front());
    for (const auto& f : files_)
      if (format_of(f) != format_)
        throw Error("all inputs must have the same format: " + files_.front() + " and " + f + " differ");
    fs::create_directories(o_.root);
    root_ = CatalogRoot(o_.root);
    target_ = root_.path_of(o_.name);
    if (fs::exists(target_) && !o_.overwrite)
      throw Error("catalog '" + o_.name + "' already exists in " + o_.root +
                  "; choose another name or pass overwrite to replace it");

    staging_ = staging_dir(o_.root, o_.name);
    fs::remove_all(staging_);
    fs::create_directories(staging_ + "/spill");
    try {
      EngineOptions eo;
      eo.threads = o_.threads;
      // The sorted rows queued to the leaf writers stay in DuckDB's buffers
      // (its memory limit counts them, and its sort needs room beside them
      // to merge): they are bounded by an eighth of the budget.
      eo.memory_limit = o_.memory_limit;
      const std::optional<int64_t> budget = parse_memory_size(o_.memory_limit);
      feed_budget_bytes_ = budget ? *budget / 8 : int64_t{256} << 20;
      eo.temp_directory = staging_ + "/spill";
      engine_ = std::make_unique<Engine>(eo);
      con_ = engine_->connect();
      timed("inspect", [&] { build_source(); });
      timed("read+sort", [&] { start_sorted_stream(); });
      timed("plan", [&] { plan(); });
      start_skymap();
      timed("write", [&] { write_leaves(); });
      timed("metadata", [&] {
        skymap_.get();  // rethrows its error, if any
        write_metadata();
      });
      if (o_.before_publish) timed("before_publish", [&] { o_.before_publish(staging_ + "/catalog"); });
      timed("publish", [&] { publish(); });
    } catch (...) {
      if (skymap_.valid()) skymap_.wait();  // it writes into the staging folder removed below
      first_chunk_.reset();
      stream_ = QueryResult();
      con_ = Connection();
      engine_.reset();
      std::error_code ignored;
      fs::remove_all(staging_, ignored);
      throw;
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(report_);
  }

 private:
  const IngestOptions& o_;
  std::vector<std::string> files_;
  Format format_ = Format::Csv;
  CatalogRoot root_{""};
  std::string target_, staging_;
  // Declared before the engine, so both outlive every query that calls them.
  std::unique_ptr<PartitionFeeds> feeds_ = std::make_unique<PartitionFeeds>();
  std::unique_ptr<PixelCounter> counter_;
  int64_t feed_budget_bytes_ = 0;
  std::unique_ptr<Engine> engine_;
  std::future<void> skymap_;
  int skymap_order_ = 0;
  Connection con_;
  QueryResult stream_;  // the sorted rows; destroyed before the connection
  std::unique_ptr<DataChunk> first_chunk_;
  std::string source_;  // FROM-clause relation of the input
  std::vector<Column> columns_;
  std::string ra_, dec_;
  std::vector<std::string> kept_columns_;
  IngestReport report_;

  template <typename F>
  void timed(const char* phase, F&& step) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    report_.phase_seconds.emplace_back(phase, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  void progress(const std::string& phase, double fraction, int64_t done, int64_t total) {
    if (o_.on_progress) o_.on_progress({phase, std::clamp(fraction, 0.0, 1.0), done, total});
  }

  void validate_options() {
    CatalogRoot::check_name(o_.name);
    if (o_.root.empty()) throw Error("no catalog root given");
    if (o_.pixel_threshold <= 0) throw Error("pixel_threshold must be > 0, got " + std::to_string(o_.pixel_threshold));
    if (check_order(o_.highest_order))
      throw Error("highest_order must be within [0, 29], got " + std::to_string(o_.highest_order));
    if (o_.row_group_rows < 1024) throw Error("row_group_rows must be >= 1024");
  }

  // `, types={...}` for the column types the caller gave, or nothing.
  std::string csv_types_argument() const {
    std::string types;
    for (const auto& [col, type] : o_.csv_types)
      types += (types.empty() ? "" : ", ") + sql_string_literal(col) + ": " + sql_string_literal(type);
    return types.empty() ? "" : ", types={" + types + "}";
  }

  std::string csv_reader(const std::vector<std::string>& files, bool parallel) const {
    std::string sql = "read_csv(" + list_literal(files) +
                      ", header=true, auto_detect=true, union_by_name=" + (files.size() > 1 ? "true" : "false") +
                      csv_types_argument();
    if (!parallel) sql += ", parallel=false";
    return sql + ")";
  }

  // One CSV file: DuckDB's sniffer runs once, here, and the reader it
  // prints (auto_detect=false with the sniffed dialect and column types)
  // reads the file; otherwise describing the input and reading it would each
  // sniff it (~30 ms apiece). nullopt when the sniffer fails: the
  // auto-detecting reader then reports the problem as usual.
  std::optional<std::string> sniffed_csv_reader() {
    if (files_.size() != 1) return std::nullopt;
    std::string prompt;
    try {
      prompt = first_cell(con_.get(), "SELECT Prompt FROM sniff_csv(" + sql_string_literal(files_.front()) + ", header=true" +
                                          csv_types_argument() + ")");
    } catch (const Error&) {
      return std::nullopt;
    }
    const std::string from = "FROM read_csv(";
    if (prompt.rfind(from, 0) != 0 || prompt.size() < from.size() + 2 || prompt.back() != ';' ||
        prompt.find("auto_detect=false") == std::string::npos)
      return std::nullopt;
    return prompt.substr(5, prompt.size() - 6);  // read_csv(...)
  }

  void build_source() {
    if (format_ == Format::Fits) {
      fs::create_directories(staging_ + "/fits");
      std::vector<std::string> parquet;
      int i = 0;
      for (const auto& f : files_) {
        FitsConversion c = convert_fits_table(*engine_, f, staging_ + "/fits/input-" + std::to_string(i++));
        parquet.insert(parquet.end(), c.parquet_files.begin(), c.parquet_files.end());
        for (const auto& s : c.skipped_columns) report_.notes.push_back(f + ": skipped column " + s);
      }
      source_ = "read_parquet(" + list_literal(parquet) + ", union_by_name=true)";
    } else if (format_ == Format::Parquet) {
      source_ = "read_parquet(" + list_literal(files_) + ", union_by_name=true, hive_partitioning=false)";
    } else {
      source_ = sniffed_csv_reader().value_or(csv_reader(files_, true));
    }
    try {
      columns_ = describe(con_.get(), source_);
    } catch (const Error& e) {
      throw Error(describe_inputs() + ": cannot read the input: " + e.what());
    }
    ra_ = pick_column(columns_, o_.ra_column, ra_column_candidates(), "right ascension", describe_inputs());
    dec_ = pick_column(columns_, o_.dec_column, dec_column_candidates(), "declination", describe_inputs());
    report_.ra_column = ra_;
    report_.dec_column = dec_;
    for (const auto& c : columns_) {
      const auto& legacy = legacy_partition_columns();
      if (c.name == "_healpix_29" || std::find(legacy.begin(), legacy.end(), c.name) != legacy.end()) continue;
      kept_columns_.push_back(c.name);
    }
    for (const auto& col : {ra_, dec_}) {
      const auto it = std::find_if(columns_.begin(), columns_.end(), [&](const Column& c) { return c.name == col; });
      if (!numeric_type(it->type)) report_non_numeric(col, it->type);
    }
  }

  std::string describe_inputs() const {
    return files_.size() == 1 ? files_.front() : files_.front() + " (and " + std::to_string(files_.size() - 1) + " more)";
  }

  // The file and row of the first row failing `bad_condition`, for error messages.
  std::string locate_first(const std::string& bad_condition, const std::string& select) {
    EngineOptions single;
    single.threads = 1;  // a single-threaded scan keeps file order, so row numbers are true
    Engine diag(single);
    Connection c = diag.connect();
    for (const auto& f : files_) {
      std::string rel;
      if (format_ == Format::Csv)
        rel = csv_reader({f}, false);
      else if (format_ == Format::Parquet)
        rel = "read_parquet(" + sql_string_literal(f) + ", hive_partitioning=false)";
      else
        return describe_inputs();
      const std::string cell = first_cell(c.get(), "SELECT rn, " + select + " FROM (SELECT row_number() OVER () AS rn, * FROM " +
                                                       rel + ") WHERE " + bad_condition + " LIMIT 1");
      if (cell.empty()) continue;
      auto cells = split_cells(cell);
      const int64_t row = std::stoll(cells[0]);
      std::string where = f + ", data row " + std::to_string(row);
      if (format_ == Format::Csv) where += " (line " + std::to_string(row + 1) + ")";
      for (size_t i = 1; i < cells.size(); ++i) where += "\x1f" + cells[i];
      return where;
    }
    return describe_inputs();
  }

  // A text-typed coordinate column is fine when every value converts to a
  // number (the write casts it); otherwise name the first value that does not.
  void report_non_numeric(const std::string& col, const std::string& type) {
    const std::string q = sql_identifier(col);
    const std::string found = locate_first(q + " IS NOT NULL AND TRY_CAST(" + q + " AS DOUBLE) IS NULL", q);
    const auto cells = split_cells(found);
    if (cells.size() > 1)
      throw Error(cells[0] + ": column '" + col + "' must hold numbers (degrees) but is " + type +
                  "; first non-numeric value: '" + cells[1] + "'");
    if (first_cell(con_.get(), "SELECT 1 FROM " + source_ + " LIMIT 1").empty())
      throw Error(describe_inputs() + ": the input has no data rows");
  }

  std::string valid_condition() const {
    const std::string r = sql_identifier(ra_) + "::DOUBLE", d = sql_identifier(dec_) + "::DOUBLE";
    return "(" + r + " IS NOT NULL AND " + d + " IS NOT NULL AND isfinite(" + r + ") AND isfinite(" + d + ") AND " + d +
           " BETWEEN -90 AND 90)";
  }

  std::string select_columns() const {
    std::string s;
    for (const auto& c : kept_columns_) s += (s.empty() ? "" : ", ") + sql_identifier(c);
    return s;
  }

  // The ingest's single pass over the input: DuckDB reads it, adds
  // `_healpix_29` (NULL for invalid coordinates, which sort last) while
  // counting the histogram, and sorts; the sorted rows are then read as a
  // stream, straight into the leaf writers (see ingest_stream.hpp). The sort
  // spills to the staging folder beyond the memory budget.
  void start_sorted_stream() {
    counter_ = std::make_unique<PixelCounter>(o_.highest_order);
    register_counting_healpix29(con_.get(), counter_.get(), o_.highest_order);
    feeds_->register_function(con_.get());
    const std::string r = sql_identifier(ra_) + "::DOUBLE", d = sql_identifier(dec_) + "::DOUBLE";
    const std::string sql = "SELECT " + select_columns() + ", " + kCountingHealpixFunction + "(" + r + ", " + d +
                            ") AS _healpix_29 FROM " + source_ + " ORDER BY _healpix_29 NULLS LAST";
    try {
      std::function<void(double, int64_t)> report;
      if (o_.on_progress) report = [&](double f, int64_t rows) { progress("read", f, rows, 0); };
      with_progress(con_.get(), report, [&] { stream_ = run_streaming(con_.get(), sql); });
      // A sort emits its first row only after it has consumed all its input:
      // from here on the counter holds every row.
      first_chunk_ = std::make_unique<DataChunk>(duckdb_fetch_chunk(*stream_.raw()));
      if (const char* e = duckdb_result_error(stream_.raw())) throw Error(e);
    } catch (const Error& e) {
      throw Error(describe_inputs() + ": " + e.what());
    }
    std::vector<std::string> names;
    std::vector<LogicalType> types;
    for (idx_t c = 0; c < stream_.column_count(); ++c) {
      names.push_back(stream_.column_name(c));
      types.emplace_back(duckdb_column_logical_type(stream_.raw(), c));
    }
    int64_t row_bytes = 0;
    for (const auto& t : types) row_bytes += value_bytes(t.get());
    const int64_t queued_rows =
        std::max<int64_t>(static_cast<int64_t>(duckdb_vector_size()), feed_budget_bytes_ / std::max<int64_t>(row_bytes, 1));
    feeds_->set_columns(std::move(names), std::move(types), queued_rows);
    progress("read", 1.0, 0, 0);
  }

  void plan() {
    const int k = o_.highest_order;
    report_.histogram = counter_->counts();
    const int64_t invalid = counter_->invalid_rows();
    counter_.reset();  // its dense tallies are the size of the sky at order k
    int64_t total = 0;
    for (const auto& pc : report_.histogram) total += pc.count;
    report_.histogram_order = k;
    if (invalid > 0 && !o_.drop_invalid_coordinates) report_invalid_coordinates(invalid);
    report_.dropped_rows = invalid;
    if (total == 0)
      throw Error(describe_inputs() + (invalid > 0 ? ": every row has invalid coordinates" : ": the input has no data rows"));
    report_.rows = total;
    report_.partitions = plan_partitions(report_.histogram, k, o_.pixel_threshold);
    progress("plan", 1.0, 0, total);
  }

  [[noreturn]] void report_invalid_coordinates(int64_t invalid) {
    const std::string r = sql_identifier(ra_), d = sql_identifier(dec_);
    const std::string found =
        locate_first("NOT " + valid_condition() + " OR " + r + " IS NULL OR " + d + " IS NULL", r + ", " + d);
    const auto cells = split_cells(found);
    std::string why;
    if (cells.size() >= 3) {
      const std::string& ra = cells[1];
      const std::string& dec = cells[2];
      auto bad = [](const std::string& v) {
        return v == "NULL" || lower(v) == "nan" || lower(v).find("inf") != std::string::npos;
      };
      if (ra == "NULL" || dec == "NULL")
        why = "column '" + (ra == "NULL" ? ra_ : dec_) + "' is empty";
      else if (bad(ra))
        why = "column '" + ra_ + "' is " + ra + ", expected a finite number of degrees";
      else if (bad(dec))
        why = "column '" + dec_ + "' is " + dec + ", expected a finite number of degrees";
      else
        why = "column '" + dec_ + "' = " + dec + " is outside [-90, 90]";
    } else {
      why = "invalid coordinates";
    }
    throw Error(
        cells[0] + ": " + why + " (" + std::to_string(invalid) +
        " row(s) with missing, NaN or out-of-range coordinates in all; pass drop_invalid_coordinates to drop and count them)");
  }

  // The HATS count map, from the histogram already counted for the plan. It
  // needs nothing else, so it is written on its own thread while DuckDB
  // writes the leaves (which do not keep both cores busy).
  void start_skymap() {
    const std::string dir = staging_ + "/catalog";
    fs::create_directories(dir);
    skymap_order_ = skymap_order_for(report_.histogram_order);
    skymap_ = std::async(std::launch::async, [this, dir] {
      // The histogram itself when its order is the skymap's (no copy: up to 12·4^10 pixels).
      const std::string path = dir + "/skymap.fits";
      if (skymap_order_ == report_.histogram_order)
        write_skymap_fits(path, skymap_order_, report_.histogram);
      else
        write_skymap_fits(path, skymap_order_, coarsen_histogram(report_.histogram, report_.histogram_order, skymap_order_));
    });
  }

  // Pass 2: the sorted stream is cut into partitions, in `_healpix_29` order,
  // and each partition's rows are queued to a COPY writing its leaf. One
  // writer per DuckDB thread: a COPY from a single-reader source encodes on
  // one thread, so the leaves are written side by side.
  void write_leaves() {
    const std::string dataset = staging_ + "/catalog/dataset";
    for (const auto& p : report_.partitions) fs::create_directories(fs::path(leaf_path(dataset, p.order, p.pixel)).parent_path());
    std::atomic<int64_t> written{0};
    std::vector<std::thread> writers;
    auto join = [&] {
      for (auto& t : writers) t.join();
      writers.clear();
    };
    try {
      for (int w = 0; w < std::max(1, engine_->threads()); ++w)
        writers.emplace_back([&] { write_claimed_leaves(dataset, written); });
      dispatch_sorted_rows();
      feeds_->finish();
    } catch (const std::exception& e) {
      feeds_->fail(e.what());
      join();
      throw;
    }
    join();
    stream_ = QueryResult();  // the sort's memory and spill files
    first_chunk_.reset();
    if (auto failure = feeds_->failure()) throw Error(*failure);
    if (written != report_.rows)
      throw Error("internal error: wrote " + std::to_string(written.load()) + " rows of " + std::to_string(report_.rows));
  }

  // A writer thread: claims the next partition's feed, COPYs it into the leaf, until none is left.
  void write_claimed_leaves(const std::string& dataset, std::atomic<int64_t>& written) {
    const std::string options = parquet_copy_options(o_.row_group_rows);
    try {
      Connection con = engine_->connect();
      while (auto claim = feeds_->claim()) {
        const PlannedPartition& p = report_.partitions[claim->partition];
        const std::string leaf = leaf_path(dataset, p.order, p.pixel);
        int64_t n = -1;
        try {
          QueryResult r = run_query(con.get(), std::string("COPY (SELECT * FROM ") + kPartitionFeedFunction + "(" +
                                                   std::to_string(claim->feed) + ")) TO " + sql_string_literal(leaf) + options);
          n = rows_written(r);
        } catch (...) {
          feeds_->done(claim->feed);
          throw;
        }
        feeds_->done(claim->feed);
        if (n != p.rows)
          throw Error("internal error: partition Norder=" + std::to_string(p.order) + ", Npix=" + std::to_string(p.pixel) +
                      " wrote " + std::to_string(n) + " rows, planned " + std::to_string(p.rows));
        written += n;
      }
    } catch (const std::exception& e) {
      feeds_->fail(e.what());
    }
  }

  // The reader of the sorted stream (this thread): routes each run of rows to
  // the feed of the partition holding it, checking the order as it goes.
  void dispatch_sorted_rows() {
    const auto& parts = report_.partitions;
    std::vector<size_t> by_range(parts.size());
    std::iota(by_range.begin(), by_range.end(), size_t{0});
    auto range_of = [&](size_t i) { return to_order29({parts[i].pixel, parts[i].pixel + 1}, parts[i].order); };
    std::sort(by_range.begin(), by_range.end(), [&](size_t a, size_t b) { return range_of(a).begin < range_of(b).begin; });

    const idx_t hp_column = stream_.column_count() - 1;  // _healpix_29 is the last column
    size_t next = 0;                                     // index in by_range of the next partition to open
    int64_t feed = -1, fed = 0, dispatched = 0, previous = std::numeric_limits<int64_t>::min();
    PixelRange range{0, 0};
    const PlannedPartition* current = nullptr;
    auto close_feed = [&] {
      if (feed < 0) return;
      feeds_->close(feed);
      if (fed != current->rows)
        throw Error("internal error: partition Norder=" + std::to_string(current->order) +
                    ", Npix=" + std::to_string(current->pixel) + " received " + std::to_string(fed) + " rows, planned " +
                    std::to_string(current->rows));
      feed = -1;
    };
    std::unique_ptr<DataChunk> chunk = std::move(first_chunk_);
    while (chunk && *chunk) {
      auto shared = std::shared_ptr<DataChunk>(std::move(chunk));
      const idx_t n = duckdb_data_chunk_get_size(shared->get());
      duckdb_vector hv = duckdb_data_chunk_get_vector(shared->get(), hp_column);
      const auto* h = static_cast<const int64_t*>(duckdb_vector_get_data(hv));
      uint64_t* validity = duckdb_vector_get_validity(hv);
      auto valid = [&](idx_t i) { return validity == nullptr || duckdb_validity_row_is_valid(validity, i); };
      bool invalid_tail = false;
      for (idx_t i = 0; i < n;) {
        if (!valid(i)) {
          // NULLS LAST: the rest of the stream is the invalid rows, counted and dropped.
          invalid_tail = true;
          break;
        }
        if (h[i] < previous) throw Error("internal error: the sorted rows are out of _healpix_29 order");
        if (feed < 0 || h[i] >= range.end) {
          close_feed();
          if (next < by_range.size()) range = range_of(by_range[next]);
          if (next == by_range.size() || h[i] < range.begin || h[i] >= range.end)
            throw Error("internal error: a row with _healpix_29 = " + std::to_string(h[i]) + " is in no planned partition");
          current = &parts[by_range[next]];
          feed = feeds_->open(by_range[next]);
          fed = 0;
          ++next;
        }
        idx_t j = i + 1;
        while (j < n && valid(j) && h[j] >= h[j - 1] && h[j] < range.end) ++j;
        if (!feeds_->push(feed, RowSlice{shared, i, j})) return;  // a writer failed; write_leaves reports it
        fed += static_cast<int64_t>(j - i);
        dispatched += static_cast<int64_t>(j - i);
        previous = h[j - 1];
        i = j;
      }
      progress("write", static_cast<double>(dispatched) / report_.rows, dispatched, report_.rows);
      if (invalid_tail) break;
      chunk = std::make_unique<DataChunk>(duckdb_fetch_chunk(*stream_.raw()));
    }
    if (const char* e = duckdb_result_error(stream_.raw())) throw Error(describe_inputs() + ": " + e);
    close_feed();
    if (next != by_range.size() || dispatched != report_.rows)
      throw Error("internal error: the sorted stream ended after " + std::to_string(dispatched) + " of " +
                  std::to_string(report_.rows) + " rows");
  }

  void write_metadata() {
    const std::string dir = staging_ + "/catalog";
    const auto& parts = report_.partitions;
    // _common_metadata: the schema and no row groups.
    const std::string first_leaf = leaf_path(dir + "/dataset", parts.front().order, parts.front().pixel);
    // hive_partitioning=false: the leaf's path (Norder=K/Dir=D/...) must not add columns to the schema.
    run_query(con_.get(), "COPY (SELECT * FROM read_parquet(" + sql_string_literal(first_leaf) +
                              ", hive_partitioning=false) LIMIT 0) TO " + sql_string_literal(dir + "/dataset/_common_metadata") +
                              " (FORMAT parquet)");
    {
      std::ofstream info(dir + "/partition_info.csv");
      info << "Norder,Npix\n";
      for (const auto& p : parts) info << p.order << "," << p.pixel << "\n";
      if (!info) throw Error("cannot write " + dir + "/partition_info.csv");
    }
    int max_order = 0;
    for (const auto& p : parts) max_order = std::max(max_order, p.order);
    uintmax_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir + "/dataset"))
      if (e.is_regular_file()) bytes += e.file_size();
    char fraction[32];
    std::snprintf(fraction, sizeof fraction, "%.6f",
                  static_cast<double>(report_.histogram.size()) / healpix_npix(report_.histogram_order));

    Properties props;
    props.set("obs_collection", o_.name);
    props.set("dataproduct_type", "object");
    props.set("hats_nrows", std::to_string(report_.rows));
    props.set("hats_col_ra", ra_);
    props.set("hats_col_dec", dec_);
    props.set("hats_col_healpix", "_healpix_29");
    props.set("hats_col_healpix_order", "29");
    props.set("hats_npix_suffix", ".parquet");
    props.set("hats_max_rows", std::to_string(o_.pixel_threshold));
    props.set("hats_order", std::to_string(max_order));
    props.set("moc_sky_fraction", fraction);
    props.set("hats_estsize", std::to_string(bytes / 1024));
    props.set("hats_skymap_order", std::to_string(skymap_order_));
    props.set("hats_builder", std::string("lodestar v") + LODESTAR_VERSION + " (DuckDB " + LODESTAR_DUCKDB_VERSION + ")");
    props.set("hats_creation_date", utc_now());
    props.set("hats_version", "v1.0");
    props.set("lodestar_highest_order", std::to_string(o_.highest_order));
    std::ofstream out(dir + "/hats.properties");
    out << props.serialize("HATS catalog");
    if (!out) throw Error("cannot write " + dir + "/hats.properties");
  }

  void publish() {
    progress("publish", 0.0, report_.rows, report_.rows);
    const std::string built = staging_ + "/catalog";
    if (fs::exists(target_)) {
      // Replace: move the old catalog aside first, so a failure leaves one of them whole.
      const std::string trash = staging_ + "/replaced";
      fs::rename(target_, trash);
      fs::rename(built, target_);
    } else {
      fs::rename(built, target_);
    }
    con_ = Connection();
    engine_.reset();
    fs::remove_all(staging_);
    report_.path = target_;
    progress("publish", 1.0, report_.rows, report_.rows);
  }
};

}  // namespace

IngestReport ingest_catalog(const IngestOptions& options) { return Ingest(options).run(); }

}  // namespace lodestar
