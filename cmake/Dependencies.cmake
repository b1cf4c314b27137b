# C/C++ dependencies: Debian packages (HEALPix C++, cfitsio, GSL, CLI11, GoogleTest) and the
# prebuilt DuckDB C library pinned in package.json (see docs/architecture.md).
find_package(PkgConfig REQUIRED)
pkg_check_modules(HEALPIX REQUIRED IMPORTED_TARGET healpix_cxx)
pkg_check_modules(CFITSIO REQUIRED IMPORTED_TARGET cfitsio)
pkg_check_modules(GSL REQUIRED IMPORTED_TARGET gsl)
find_package(CLI11 CONFIG REQUIRED)

set(LODESTAR_DUCKDB_VERSION "1.5.5")
set(LODESTAR_DUCKDB_LIBRARY "${CMAKE_CURRENT_SOURCE_DIR}/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"
    CACHE FILEPATH "libduckdb.so (from the npm package @duckdb/node-bindings-linux-x64)")
set(LODESTAR_DUCKDB_INCLUDE_DIR "${CMAKE_CURRENT_SOURCE_DIR}/third_party/duckdb/include"
    CACHE PATH "Folder holding duckdb.h of the same DuckDB version")
if(NOT EXISTS "${LODESTAR_DUCKDB_LIBRARY}" OR NOT EXISTS "${LODESTAR_DUCKDB_INCLUDE_DIR}/duckdb.h")
  message(FATAL_ERROR "DuckDB ${LODESTAR_DUCKDB_VERSION} not found (${LODESTAR_DUCKDB_LIBRARY}, "
                      "${LODESTAR_DUCKDB_INCLUDE_DIR}/duckdb.h). Run scripts/setup.sh (or `make setup`) first.")
endif()
add_library(duckdb::duckdb SHARED IMPORTED)
set_target_properties(duckdb::duckdb PROPERTIES
  IMPORTED_LOCATION "${LODESTAR_DUCKDB_LIBRARY}"
  IMPORTED_SONAME "libduckdb.so"
  INTERFACE_INCLUDE_DIRECTORIES "${LODESTAR_DUCKDB_INCLUDE_DIR}")
