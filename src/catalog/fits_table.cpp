#include "catalog/fits_table.hpp"

#include <fitsio.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/appender.hpp"
#include "engine/parquet_format.hpp"
#include "engine/sql_text.hpp"

namespace lodestar {
namespace {

enum class Kind { Integer, Real, Logical, Text };

struct FitsColumn {
  int number;  // 1-based FITS column number
  std::string name;
  Kind kind;
  long width = 0;  // strings: characters
};

class FitsFile {
 public:
  explicit FitsFile(const std::string& path) : path_(path) {
    int status = 0;
    if (fits_open_file(&f_, path.c_str(), READONLY, &status)) fail("cannot open as FITS", status);
  }
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;
  ~FitsFile() {
    int status = 0;
    if (f_) fits_close_file(f_, &status);
  }
  fitsfile* get() { return f_; }
  [[noreturn]] void fail(const std::string& what, int status) const {
    char text[FLEN_STATUS] = {0};
    fits_get_errstatus(status, text);
    throw Error(path_ + ": " + what + " (cfitsio: " + text + ")");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  fitsfile* f_ = nullptr;
};

// Moves to the first ASCII or binary table HDU.
void move_to_table(FitsFile& file) {
  int status = 0, nhdu = 0;
  if (fits_get_num_hdus(file.get(), &nhdu, &status)) file.fail("cannot count HDUs", status);
  for (int h = 1; h <= nhdu; ++h) {
    int type = 0;
    if (fits_movabs_hdu(file.get(), h, &type, &status)) file.fail("cannot read HDU " + std::to_string(h), status);
    if (type == BINARY_TBL || type == ASCII_TBL) return;
  }
  throw Error(file.path() + ": no table HDU found (the FITS file holds " + std::to_string(nhdu) +
              " HDU(s), none of them an ASCII or binary table)");
}

std::vector<FitsColumn> read_columns(FitsFile& file, std::vector<std::string>& skipped) {
  int status = 0, ncols = 0;
  if (fits_get_num_cols(file.get(), &ncols, &status)) file.fail("cannot count columns", status);
  std::vector<FitsColumn> cols;
  for (int c = 1; c <= ncols; ++c) {
    char key[FLEN_KEYWORD], name[FLEN_VALUE] = {0};
    std::snprintf(key, sizeof key, "TTYPE%d", c);
    if (fits_read_key(file.get(), TSTRING, key, name, nullptr, &status)) {
      status = 0;
      std::snprintf(name, sizeof name, "col%d", c);
    }
    int type = 0;
    long repeat = 0, width = 0;
    if (fits_get_eqcoltype(file.get(), c, &type, &repeat, &width, &status))
      file.fail(std::string("cannot read type of column ") + name, status);
    FitsColumn col{c, name, Kind::Real, 0};
    if (type == TSTRING) {
      col.kind = Kind::Text;
      col.width = repeat;
    } else if (repeat != 1) {
      skipped.push_back(std::string(name) + " (vector column of " + std::to_string(repeat) + " elements)");
      continue;
    } else if (type == TLOGICAL) {
      col.kind = Kind::Logical;
    } else if (type == TFLOAT || type == TDOUBLE) {
      col.kind = Kind::Real;
    } else if (type == TBYTE || type == TSBYTE || type == TSHORT || type == TUSHORT || type == TINT || type == TUINT ||
               type == TLONG || type == TULONG || type == TLONGLONG) {
      col.kind = Kind::Integer;
    } else {
      skipped.push_back(std::string(name) + " (unsupported FITS type code " + std::to_string(type) + ")");
      continue;
    }
    cols.push_back(col);
  }
  return cols;
}

const char* sql_type(Kind k) {
  switch (k) {
    case Kind::Integer:
      return "BIGINT";
    case Kind::Real:
      return "DOUBLE";
    case Kind::Logical:
      return "BOOLEAN";
    default:
      return "VARCHAR";
  }
}

duckdb_type duck_type(Kind k) {
  switch (k) {
    case Kind::Integer:
      return DUCKDB_TYPE_BIGINT;
    case Kind::Real:
      return DUCKDB_TYPE_DOUBLE;
    case Kind::Logical:
      return DUCKDB_TYPE_BOOLEAN;
    default:
      return DUCKDB_TYPE_VARCHAR;
  }
}

void set_null(duckdb_vector v, idx_t row) {
  duckdb_vector_ensure_validity_writable(v);
  duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
}

// Reads rows [first, first + n) of one column into a chunk vector.
void read_into(FitsFile& file, const FitsColumn& col, LONGLONG first, long n, duckdb_vector v) {
  int status = 0, anynul = 0;
  std::vector<char> nulls(n, 0);
  switch (col.kind) {
    case Kind::Integer: {
      auto* out = static_cast<int64_t*>(duckdb_vector_get_data(v));
      std::vector<LONGLONG> buf(n);
      if (fits_read_colnull(file.get(), TLONGLONG, col.number, first, 1, n, buf.data(), nulls.data(), &anynul, &status))
        file.fail("cannot read column " + col.name, status);
      for (long i = 0; i < n; ++i) out[i] = buf[i];
      break;
    }
    case Kind::Real: {
      auto* out = static_cast<double*>(duckdb_vector_get_data(v));
      if (fits_read_colnull(file.get(), TDOUBLE, col.number, first, 1, n, out, nulls.data(), &anynul, &status))
        file.fail("cannot read column " + col.name, status);
      break;
    }
    case Kind::Logical: {
      auto* out = static_cast<bool*>(duckdb_vector_get_data(v));
      std::vector<char> buf(n);
      if (fits_read_colnull(file.get(), TLOGICAL, col.number, first, 1, n, buf.data(), nulls.data(), &anynul, &status))
        file.fail("cannot read column " + col.name, status);
      for (long i = 0; i < n; ++i) out[i] = buf[i] != 0;
      break;
    }
    case Kind::Text: {
      std::vector<std::vector<char>> storage(n, std::vector<char>(col.width + 1, 0));
      std::vector<char*> ptrs(n);
      for (long i = 0; i < n; ++i) ptrs[i] = storage[i].data();
      if (fits_read_col_str(file.get(), col.number, first, 1, n, const_cast<char*>(""), ptrs.data(), &anynul, &status))
        file.fail("cannot read column " + col.name, status);
      for (long i = 0; i < n; ++i) duckdb_vector_assign_string_element(v, i, ptrs[i]);
      return;
    }
  }
  for (long i = 0; i < n; ++i)
    if (nulls[i]) set_null(v, i);
}

}  // namespace

FitsConversion convert_fits_table(Engine& engine, const std::string& fits_path, const std::string& out_prefix,
                                  int64_t rows_per_file) {
  FitsFile file(fits_path);
  move_to_table(file);
  FitsConversion result;
  const auto cols = read_columns(file, result.skipped_columns);
  if (cols.empty()) throw Error(fits_path + ": the table has no readable columns");
  int status = 0;
  LONGLONG nrows = 0;
  if (fits_get_num_rowsll(file.get(), &nrows, &status)) file.fail("cannot count rows", status);

  Connection con = engine.connect();
  std::string ddl;
  for (const auto& c : cols) ddl += (ddl.empty() ? "" : ", ") + sql_identifier(c.name) + " " + sql_type(c.kind);
  run_query(con.get(), "CREATE OR REPLACE TEMP TABLE fits_batch(" + ddl + ")");

  std::vector<LogicalType> owned;
  owned.reserve(cols.size());
  std::vector<duckdb_logical_type> types;
  for (const auto& c : cols) types.push_back(owned.emplace_back(duck_type(c.kind)).get());
  const idx_t capacity = duckdb_vector_size();
  int file_index = 0;
  auto flush_file = [&] {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%05d.parquet", file_index++);
    const std::string out = out_prefix + suffix;
    run_query(con.get(), "COPY fits_batch TO " + sql_string_literal(out) + parquet_copy_options());
    run_query(con.get(), "DELETE FROM fits_batch");
    result.parquet_files.push_back(out);
  };
  int64_t in_file = 0;
  for (LONGLONG first = 1; first <= nrows;) {
    {
      Appender appender(con.get(), "fits_batch");
      while (first <= nrows && in_file < rows_per_file) {
        const long n = static_cast<long>(std::min<LONGLONG>(capacity, nrows - first + 1));
        DataChunk chunk(duckdb_create_data_chunk(types.data(), types.size()));
        for (size_t c = 0; c < cols.size(); ++c) read_into(file, cols[c], first, n, duckdb_data_chunk_get_vector(chunk.get(), c));
        duckdb_data_chunk_set_size(chunk.get(), n);
        appender.append(chunk.get());
        first += n;
        in_file += n;
      }
      appender.flush();
    }
    flush_file();
    in_file = 0;
  }
  if (nrows == 0) flush_file();  // keep the schema of an empty table
  result.rows = nrows;
  return result;
}

}  // namespace lodestar
