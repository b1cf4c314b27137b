"""The Parquet format of every file Lodestar writes, for the engine's COPYs and
for pyarrow writes alike: ZSTD with Parquet's V2 encodings (BYTE_STREAM_SPLIT
for floating-point columns, DELTA_BINARY_PACKED for integers). One definition,
in the engine (src/engine/parquet_format.hpp); see docs/formats.md for why."""

from __future__ import annotations

import pyarrow as pa

from . import _core

# "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION v2": the inside of a COPY ... TO (...) clause.
COPY_OPTIONS: str = _core.parquet_write_options


def copy_options(row_group_rows: int | None = None) -> str:
    """The options clause of a COPY ... TO, with a row-group size when given."""
    return f"({COPY_OPTIONS}" + (f", ROW_GROUP_SIZE {int(row_group_rows)})" if row_group_rows else ")")


def pyarrow_write_kwargs(schema: pa.Schema) -> dict:
    """pq.write_table arguments that give pyarrow's writes the engine's format.

    Top-level float and integer columns get the engine's V2 encodings (pyarrow
    wants dictionary encoding off for a column given an explicit encoding);
    other columns (strings, nested light curves) keep pyarrow's dictionary
    default, as DuckDB's writer does for them."""
    encoding, dictionary = {}, []
    for field in schema:
        t = field.type
        if pa.types.is_floating(t) and not pa.types.is_float16(t):
            encoding[field.name] = "BYTE_STREAM_SPLIT"
        elif pa.types.is_integer(t):
            encoding[field.name] = "DELTA_BINARY_PACKED"
        else:
            dictionary.append(field.name)
    kwargs = {"compression": "zstd", "data_page_version": "2.0", "use_dictionary": dictionary}
    if encoding:
        kwargs["column_encoding"] = encoding
    return kwargs
