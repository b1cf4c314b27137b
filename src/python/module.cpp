// lodestar._core: the Python binding of the C++ engine. Heavy work runs with
// the GIL released; results leave as Arrow streams (no per-value objects).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include "core/healpix_index.hpp"
#include "core/sky_angles.hpp"
#include "engine/arrow_export.hpp"
#include "engine/engine.hpp"
#include "engine/parquet_format.hpp"
#include "lodestar_version.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;
using namespace lodestar;

namespace lodestar::python {
std::vector<BindingSection>& binding_sections() {
  static std::vector<BindingSection> sections;
  return sections;
}
}  // namespace lodestar::python

namespace {

void release_stream_capsule(PyObject* capsule) {
  auto* stream = static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(capsule, "arrow_array_stream"));
  if (stream == nullptr) {
    PyErr_Clear();
    return;
  }
  if (stream->release) stream->release(stream);  // not consumed by the reader
  delete stream;
}

// A query result that speaks the Arrow PyCapsule protocol, so
// pyarrow.RecordBatchReader.from_stream / pyarrow.table can take it.
class ResultStream {
 public:
  explicit ResultStream(QueryResult&& result) : result_(std::move(result)) {}
  py::object arrow_c_stream(py::object requested_schema) {
    if (!requested_schema.is_none()) throw py::value_error("lodestar results do not support a requested_schema");
    if (!result_) throw py::value_error("this lodestar result was already consumed");
    auto* stream = new ArrowArrayStream{};
    export_arrow_stream(std::move(*result_), stream);
    result_.reset();
    return py::reinterpret_steal<py::object>(PyCapsule_New(stream, "arrow_array_stream", release_stream_capsule));
  }

 private:
  std::optional<QueryResult> result_;
};

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

void check_same_size(std::initializer_list<py::ssize_t> sizes) {
  const py::ssize_t n = *sizes.begin();
  for (auto s : sizes)
    if (s != n) throw py::value_error("input arrays must have the same length");
}

py::array_t<int64_t> np_healpix_nest(int order, Array<double> ra, Array<double> dec) {
  if (auto p = check_order(order)) throw py::value_error(*p);
  check_same_size({ra.size(), dec.size()});
  py::array_t<int64_t> out(ra.size());
  auto r = ra.unchecked<1>();
  auto d = dec.unchecked<1>();
  auto o = out.mutable_unchecked<1>();
  for (py::ssize_t i = 0; i < ra.size(); ++i)
    if (auto p = check_position(r(i), d(i))) throw py::value_error("row " + std::to_string(i) + ": " + *p);
  {
    py::gil_scoped_release unlocked;
    for (py::ssize_t i = 0; i < ra.size(); ++i) o(i) = healpix_nest(order, r(i), d(i));
  }
  return out;
}

py::array_t<double> np_ang_sep(Array<double> ra1, Array<double> dec1, Array<double> ra2, Array<double> dec2) {
  check_same_size({ra1.size(), dec1.size(), ra2.size(), dec2.size()});
  py::array_t<double> out(ra1.size());
  auto a = ra1.unchecked<1>();
  auto b = dec1.unchecked<1>();
  auto c = ra2.unchecked<1>();
  auto d = dec2.unchecked<1>();
  auto o = out.mutable_unchecked<1>();
  for (py::ssize_t i = 0; i < ra1.size(); ++i) {
    if (auto p = check_position(a(i), b(i))) throw py::value_error("row " + std::to_string(i) + " (ra1, dec1): " + *p);
    if (auto p = check_position(c(i), d(i))) throw py::value_error("row " + std::to_string(i) + " (ra2, dec2): " + *p);
  }
  {
    py::gil_scoped_release unlocked;
    for (py::ssize_t i = 0; i < ra1.size(); ++i) o(i) = angular_separation_deg(a(i), b(i), c(i), d(i));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Lodestar's C++ engine (internal; use the lodestar package)";
  m.attr("__version__") = LODESTAR_VERSION;
  m.attr("duckdb_version") = LODESTAR_DUCKDB_VERSION;
  // The Parquet format of every file the engine writes; the Python writers use the same (lodestar/writer.py).
  m.attr("parquet_write_options") = kParquetWriteOptions;
  py::register_exception<Error>(m, "LodestarError", PyExc_RuntimeError);
  auto sections = lodestar::python::binding_sections();
  std::stable_sort(sections.begin(), sections.end(), [](const auto& a, const auto& b) { return a.priority < b.priority; });
  for (const auto& section : sections) section.bind(m);
}

LODESTAR_PYTHON_BINDING_PRIORITY(engine, 0) {
  py::class_<ResultStream>(m, "ResultStream")
      .def("__arrow_c_stream__", &ResultStream::arrow_c_stream, py::arg("requested_schema") = py::none());

  py::class_<Engine>(m, "Engine")
      .def(py::init([](int threads, std::string memory_limit, std::string temp_directory) {
             EngineOptions o;
             o.threads = threads;
             o.memory_limit = std::move(memory_limit);
             o.temp_directory = std::move(temp_directory);
             return std::make_unique<Engine>(o);
           }),
           py::arg("threads") = 0, py::arg("memory_limit") = "", py::arg("temp_directory") = "")
      .def_property_readonly("threads", &Engine::threads)
      .def(
          "query",
          [](Engine& engine, const std::string& sql) {
            std::optional<QueryResult> result;
            {
              py::gil_scoped_release unlocked;
              result.emplace(engine.query(sql));
            }
            return ResultStream(std::move(*result));
          },
          py::arg("sql"), "Run SQL; returns an Arrow stream of the last statement's result")
      .def(
          "execute",
          [](Engine& engine, const std::string& sql) {
            py::gil_scoped_release unlocked;
            engine.query(sql);
          },
          py::arg("sql"), "Run SQL and discard any result");

  m.def("healpix_nest", &np_healpix_nest, py::arg("order"), py::arg("ra"), py::arg("dec"),
        "NESTED HEALPix pixel numbers of (ra, dec) in degrees at an order 0..29");
  m.def("ang_sep", &np_ang_sep, py::arg("ra1"), py::arg("dec1"), py::arg("ra2"), py::arg("dec2"),
        "Great-circle separations in degrees");
}
