// Python bindings of the catalog layer: opening HATS catalogs, catalog roots,
// the SQL relation over a catalog's leaves, and ingest.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "catalog/catalog_root.hpp"
#include "catalog/catalog_sql.hpp"
#include "catalog/ingest.hpp"
#include "catalog/margin_coverage.hpp"
#include "catalog/skymap_fits.hpp"
#include "core/healpix_index.hpp"
#include "engine/engine.hpp"
#include "engine/remote_access.hpp"
#include "python/bindings.hpp"
#include "python/numpy_ranges.hpp"

namespace py = pybind11;
using namespace lodestar;
using lodestar::python::ranges_to_numpy;

namespace {

py::dict catalog_to_dict(const HatsCatalog& c) {
  py::dict d;
  d["path"] = c.path();
  d["name"] = c.name();
  d["type"] = c.type();
  d["ra_column"] = c.ra_column();
  d["dec_column"] = c.dec_column();
  d["healpix_column"] = c.healpix_column();
  d["healpix_order"] = c.healpix_order();
  d["total_rows"] = c.total_rows();
  d["margin_path"] = c.margin_path() ? py::cast(*c.margin_path()) : py::none();
  d["collection_path"] = c.collection_path() ? py::cast(*c.collection_path()) : py::none();
  d["margin_threshold_arcsec"] = c.margin_threshold_arcsec() ? py::cast(*c.margin_threshold_arcsec()) : py::none();
  py::list props;
  for (const auto& [k, v] : c.properties().entries()) props.append(py::make_tuple(k, v));
  d["properties"] = props;
  const size_t n = c.partitions().size();
  py::array_t<int64_t> orders(n), pixels(n);
  py::list files;
  for (size_t i = 0; i < n; ++i) {
    orders.mutable_at(i) = c.partitions()[i].order;
    pixels.mutable_at(i) = c.partitions()[i].pixel;
    files.append(py::cast(c.partitions()[i].files));
  }
  d["orders"] = orders;
  d["pixels"] = pixels;
  d["files"] = files;
  return d;
}

py::dict report_to_dict(const IngestReport& r) {
  py::dict d;
  d["path"] = r.path;
  d["rows"] = r.rows;
  d["dropped_rows"] = r.dropped_rows;
  d["partitions"] = r.partitions.size();
  d["seconds"] = r.seconds;
  d["ra_column"] = r.ra_column;
  d["dec_column"] = r.dec_column;
  d["notes"] = r.notes;
  d["histogram_order"] = r.histogram_order;
  // The histogram itself (millions of pixels) stays in C++: it is in the catalog's skymap.fits, and
  // converting it took 0.2 s at 1e7 rows.
  d["histogram_pixels_nonempty"] = r.histogram.size();
  py::dict phases;
  for (const auto& [phase, seconds] : r.phase_seconds) phases[py::str(phase)] = seconds;
  d["phase_seconds"] = phases;
  return d;
}

}  // namespace

LODESTAR_PYTHON_BINDING(catalog) {
  // Opening may list and read an object store: the GIL is released around it.
  m.def(
      "open_catalog",
      [](const std::string& path) {
        std::optional<HatsCatalog> c;
        {
          py::gil_scoped_release unlocked;
          c.emplace(HatsCatalog::open(path));
        }
        return catalog_to_dict(*c);
      },
      py::arg("path"), "Metadata of the HATS catalog or collection at path");
  m.def("default_catalog_root", &default_catalog_root);
  m.def("forget_catalog", &HatsCatalog::forget, py::arg("path"),
        "Drop remote catalogs at or under path from this process's metadata cache (all when empty)");
  m.def(
      "list_catalogs", [](const std::string& root) { return CatalogRoot(root).list(); }, py::arg("root"),
      py::call_guard<py::gil_scoped_release>());
  m.def(
      "catalog_path",
      [](const std::string& root, const std::string& name) {
        // A collection's folder, not its primary's: opening it attaches the margin.
        const HatsCatalog c = CatalogRoot(root).load(name);
        return c.collection_path() ? *c.collection_path() : c.path();
      },
      py::call_guard<py::gil_scoped_release>(), py::arg("root"), py::arg("name"),
      "Folder of catalog `name` in `root` (error listing the available ones when absent)");
  m.def(
      "catalog_relation_sql",
      [](Engine& engine, const std::string& path, const std::vector<std::string>& files) {
        const HatsCatalog c = HatsCatalog::open(path);
        if (is_remote(c.path())) engine.ensure_remote_access();
        Connection con = engine.connect();
        return read_leaves_sql(con.get(), c, files);
      },
      py::call_guard<py::gil_scoped_release>(), py::arg("engine"), py::arg("path"), py::arg("files"),
      "FROM-clause SQL reading the given leaves of the catalog at path");
  m.def(
      "catalog_schema",
      [](Engine& engine, const std::string& path) {
        const HatsCatalog c = HatsCatalog::open(path);
        if (is_remote(c.path())) engine.ensure_remote_access();
        Connection con = engine.connect();
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& col : catalog_schema(con.get(), c)) out.emplace_back(col.name, col.type);
        return out;
      },
      py::call_guard<py::gil_scoped_release>(), py::arg("engine"), py::arg("path"));
  m.def(
      "margin_coverage29",
      [](int order, int64_t pixel, double radius_deg, int at_order) {
        const auto ranges = margin_coverage29(order, pixel, radius_deg, at_order);
        return ranges_to_numpy(ranges);
      },
      py::arg("order"), py::arg("pixel"), py::arg("radius_deg"), py::arg("at_order"),
      "Order-29 ranges of the pixels at `at_order` outside `pixel` that may hold points within radius_deg of it (margins)");
  m.def(
      "disc_coverage",
      [](int order, double ra, double dec, double radius_deg) {
        if (auto p = check_order(order)) throw Error(*p);
        const auto ranges = disc_coverage(order, ra, dec, radius_deg);
        return ranges_to_numpy(ranges);
      },
      py::arg("order"), py::arg("ra"), py::arg("dec"), py::arg("radius_deg"),
      "Inclusive HEALPix coverage of a disc: an (n, 2) array of [begin, end) pixel ranges at `order`");
  m.def(
      "ingest",
      [](std::vector<std::string> inputs, std::string name, std::string root, std::string ra, std::string dec,
         int64_t pixel_threshold, int highest_order, bool overwrite, bool drop_invalid, std::string memory_limit, int threads,
         int64_t row_group_rows, std::map<std::string, std::string> types,
         std::function<void(std::string, double, int64_t, int64_t)> progress, std::function<void(std::string)> before_publish) {
        IngestOptions o;
        o.inputs = std::move(inputs);
        o.name = std::move(name);
        o.root = std::move(root);
        o.ra_column = std::move(ra);
        o.dec_column = std::move(dec);
        o.pixel_threshold = pixel_threshold;
        o.highest_order = highest_order;
        o.overwrite = overwrite;
        o.drop_invalid_coordinates = drop_invalid;
        o.memory_limit = std::move(memory_limit);
        o.threads = threads;
        o.row_group_rows = row_group_rows;
        o.csv_types = std::move(types);
        if (progress) {
          o.on_progress = [progress](const IngestProgress& p) {
            py::gil_scoped_acquire locked;
            try {
              progress(p.phase, p.fraction, p.rows_done, p.rows_total);
            } catch (py::error_already_set& e) {
              e.discard_as_unraisable("lodestar ingest progress callback");  // a display problem must not kill the ingest
            }
          };
        }
        if (before_publish) {
          // Unlike progress, its errors abort the ingest (the staging folder is removed).
          o.before_publish = [before_publish](const std::string& catalog_dir) {
            py::gil_scoped_acquire locked;
            before_publish(catalog_dir);
          };
        }
        IngestReport report;
        {
          py::gil_scoped_release unlocked;
          report = ingest_catalog(o);
        }
        return report_to_dict(report);
      },
      py::arg("inputs"), py::arg("name"), py::arg("root"), py::arg("ra") = "", py::arg("dec") = "",
      py::arg("pixel_threshold") = 1'000'000, py::arg("highest_order") = 10, py::arg("overwrite") = false,
      py::arg("drop_invalid") = false, py::arg("memory_limit") = "2GB", py::arg("threads") = 0, py::arg("row_group_rows") = 20000,
      py::arg("types") = std::map<std::string, std::string>{}, py::arg("progress") = nullptr,
      py::arg("before_publish") = nullptr);
  m.def(
      "write_skymap_fits",
      [](const std::string& path, int order, py::array_t<int64_t, py::array::c_style | py::array::forcecast> counts) {
        if (counts.ndim() != 1) throw Error(path + ": skymap counts must be a 1-d array");
        std::vector<int64_t> values(counts.data(), counts.data() + counts.size());
        py::gil_scoped_release unlocked;
        write_skymap_fits(path, order, values);
      },
      py::arg("path"), py::arg("order"), py::arg("counts"),
      "Write the HATS skymap.fits count map: counts[p] rows in NESTED pixel p of `order` (12*4**order values)");
}
