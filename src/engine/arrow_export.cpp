#include "engine/arrow_export.hpp"

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

namespace lodestar {
namespace {

struct StreamState {
  QueryResult result;
  duckdb_arrow_options options = nullptr;
  std::string last_error;
  explicit StreamState(QueryResult&& r) : result(std::move(r)) { options = duckdb_result_get_arrow_options(result.raw()); }
  ~StreamState() {
    if (options) duckdb_destroy_arrow_options(&options);
  }
};

StreamState* state_of(ArrowArrayStream* stream) { return static_cast<StreamState*>(stream->private_data); }

// Returns 0 on success, else stores DuckDB's message and returns EIO.
int take_error(StreamState* state, duckdb_error_data error) {
  if (!error) return 0;
  int code = 0;
  if (duckdb_error_data_has_error(error)) {
    state->last_error = duckdb_error_data_message(error);
    code = EIO;
  }
  duckdb_destroy_error_data(&error);
  return code;
}

int get_schema(ArrowArrayStream* stream, ArrowSchema* out) {
  StreamState* state = state_of(stream);
  const idx_t ncol = state->result.column_count();
  std::vector<duckdb_logical_type> types(ncol);
  std::vector<const char*> names(ncol);
  for (idx_t c = 0; c < ncol; ++c) {
    types[c] = duckdb_column_logical_type(state->result.raw(), c);
    names[c] = duckdb_column_name(state->result.raw(), c);
  }
  const int code = take_error(state, duckdb_to_arrow_schema(state->options, types.data(), names.data(), ncol, out));
  for (auto& t : types) duckdb_destroy_logical_type(&t);
  return code;
}

int get_next(ArrowArrayStream* stream, ArrowArray* out) {
  StreamState* state = state_of(stream);
  DataChunk chunk(duckdb_fetch_chunk(*state->result.raw()));
  if (!chunk) {
    out->release = nullptr;  // end of stream
    return 0;
  }
  return take_error(state, duckdb_data_chunk_to_arrow(state->options, chunk.get(), out));
}

const char* get_last_error(ArrowArrayStream* stream) {
  StreamState* state = state_of(stream);
  return state->last_error.empty() ? nullptr : state->last_error.c_str();
}

void release(ArrowArrayStream* stream) {
  delete state_of(stream);
  stream->release = nullptr;
}

}  // namespace

void export_arrow_stream(QueryResult&& result, ArrowArrayStream* out) {
  out->private_data = new StreamState(std::move(result));
  out->get_schema = get_schema;
  out->get_next = get_next;
  out->get_last_error = get_last_error;
  out->release = release;
}

}  // namespace lodestar
