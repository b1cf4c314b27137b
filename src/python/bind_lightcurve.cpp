// lodestar._core light-curve kernels on CSR columns (offsets + flat time/mag/mag_err/band arrays).
// Results are dicts of numpy arrays (one entry per column), built after the
// kernel ran with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/duckdb_handles.hpp"
#include "lightcurve/dimming.hpp"
#include "lightcurve/features.hpp"
#include "python/bindings.hpp"

namespace py = pybind11;
using namespace lodestar;
using namespace lodestar::lightcurve;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Owns the converted numpy inputs so the spans stay valid while the GIL is released.
struct CsrInput {
  Array<int64_t> offsets;
  Array<double> time, mag, mag_err;
  std::vector<int8_t> band;
  LightCurveColumns columns() const {
    return {{offsets.data(), static_cast<size_t>(offsets.size())},
            {time.data(), static_cast<size_t>(time.size())},
            {mag.data(), static_cast<size_t>(mag.size())},
            {mag_err.data(), static_cast<size_t>(mag_err.size())},
            {band.data(), band.size()}};
  }
};

CsrInput convert(const Array<int64_t>& offsets, const Array<double>& time, const Array<double>& mag, const Array<double>& mag_err,
                 const Array<int64_t>& band) {
  for (const py::array* a :
       {static_cast<const py::array*>(&offsets), static_cast<const py::array*>(&time), static_cast<const py::array*>(&mag),
        static_cast<const py::array*>(&mag_err), static_cast<const py::array*>(&band)})
    if (a->ndim() != 1) throw Error("light curves: offsets, time, mag, mag_err and band must be 1-dimensional arrays");
  CsrInput in{offsets, time, mag, mag_err, {}};
  in.band.resize(band.size());
  const int64_t* b = band.data();
  for (py::ssize_t j = 0; j < band.size(); ++j) {
    if (b[j] < 0 || b[j] >= kNumBands)
      throw Error("light curves: detection " + std::to_string(j) + ": unknown band code " + std::to_string(b[j]) +
                  " (expected 0 = g, 1 = r, 2 = i)");
    in.band[j] = static_cast<int8_t>(b[j]);
  }
  return in;
}

template <typename T, typename Rows, typename Get>
py::array_t<T> column(const Rows& rows, Get get) {
  py::array_t<T> out(static_cast<py::ssize_t>(rows.size()));
  T* p = out.mutable_data();
  for (size_t i = 0; i < rows.size(); ++i) p[i] = get(rows[i]);
  return out;
}

py::dict lightcurve_features(const Array<int64_t>& offsets, const Array<double>& time, const Array<double>& mag,
                             const Array<double>& mag_err, const Array<int64_t>& band) {
  const CsrInput in = convert(offsets, time, mag, mag_err, band);
  std::vector<FeatureRow> rows;
  {
    py::gil_scoped_release unlocked;
    rows = compute_features_per_band(in.columns());
  }
  py::dict out;
  out["object_index"] = column<int64_t>(rows, [](const FeatureRow& r) { return r.object_index; });
  out["band"] = column<int8_t>(rows, [](const FeatureRow& r) { return r.band; });
  out["n_obs"] = column<int64_t>(rows, [](const FeatureRow& r) { return r.features.n_obs; });
  for (size_t c = 0; c < kFeatureNames.size(); ++c)
    out[kFeatureNames[c]] = column<double>(rows, [c](const FeatureRow& r) { return feature_values(r.features)[c]; });
  return out;
}

py::dict dimming_events(const Array<int64_t>& offsets, const Array<double>& time, const Array<double>& mag,
                        const Array<double>& mag_err, const Array<int64_t>& band, double k_sigma, int min_points,
                        double min_depth_mag, double extend_sigma, int min_baseline_points, int max_harmonic,
                        double fit_padding_factor, double min_fit_padding_days, bool fit, double max_run_gap_days) {
  const CsrInput in = convert(offsets, time, mag, mag_err, band);
  DimmingParams p;
  p.k_sigma = k_sigma;
  p.min_points = min_points;
  p.min_depth_mag = min_depth_mag;
  p.extend_sigma = std::isnan(extend_sigma) ? std::min(1.5, k_sigma) : extend_sigma;
  p.min_baseline_points = min_baseline_points;
  p.max_harmonic = max_harmonic;
  p.fit_padding_factor = fit_padding_factor;
  p.min_fit_padding_days = min_fit_padding_days;
  p.fit = fit;
  p.max_run_gap_days = max_run_gap_days;
  std::vector<DimmingEvent> ev;
  {
    py::gil_scoped_release unlocked;
    ev = find_dimming_events(in.columns(), p);
  }
  using E = DimmingEvent;
  py::dict out;
  out["object_index"] = column<int64_t>(ev, [](const E& e) { return e.object_index; });
  out["event_index"] = column<int32_t>(ev, [](const E& e) { return e.event_index; });
  out["start"] = column<double>(ev, [](const E& e) { return e.start; });
  out["end"] = column<double>(ev, [](const E& e) { return e.end; });
  out["duration"] = column<double>(ev, [](const E& e) { return e.duration; });
  out["t_min"] = column<double>(ev, [](const E& e) { return e.t_min; });
  out["depth_mag"] = column<double>(ev, [](const E& e) { return e.depth_mag; });
  out["depth_frac"] = column<double>(ev, [](const E& e) { return e.depth_frac; });
  out["significance"] = column<double>(ev, [](const E& e) { return e.significance; });
  out["n_points"] = column<int32_t>(ev, [](const E& e) { return e.n_points; });
  out["n_faint"] = column<int32_t>(ev, [](const E& e) { return e.n_faint; });
  out["bands_mask"] = column<uint8_t>(ev, [](const E& e) { return e.bands_mask; });
  out["periodic"] = column<bool>(ev, [](const E& e) { return e.periodic; });
  out["period"] = column<double>(ev, [](const E& e) { return e.period; });
  out["fit_status"] = column<int8_t>(ev, [](const E& e) { return static_cast<int8_t>(e.fit.status); });
  out["f0"] = column<double>(ev, [](const E& e) { return e.fit.f0; });
  out["f0_err"] = column<double>(ev, [](const E& e) { return e.fit.f0_err; });
  out["amplitude"] = column<double>(ev, [](const E& e) { return e.fit.amplitude; });
  out["amplitude_err"] = column<double>(ev, [](const E& e) { return e.fit.amplitude_err; });
  out["t0"] = column<double>(ev, [](const E& e) { return e.fit.t0; });
  out["t0_err"] = column<double>(ev, [](const E& e) { return e.fit.t0_err; });
  out["sigma_rise"] = column<double>(ev, [](const E& e) { return e.fit.sigma_rise; });
  out["sigma_rise_err"] = column<double>(ev, [](const E& e) { return e.fit.sigma_rise_err; });
  out["sigma_fall"] = column<double>(ev, [](const E& e) { return e.fit.sigma_fall; });
  out["sigma_fall_err"] = column<double>(ev, [](const E& e) { return e.fit.sigma_fall_err; });
  out["chi2_dip"] = column<double>(ev, [](const E& e) { return e.fit.chi2_dip; });
  out["chi2_flat"] = column<double>(ev, [](const E& e) { return e.fit.chi2_flat; });
  out["delta_chi2"] = column<double>(ev, [](const E& e) { return e.fit.delta_chi2; });
  out["n_fit_points"] = column<int32_t>(ev, [](const E& e) { return e.fit.n_points; });
  out["n_clipped"] = column<int32_t>(ev, [](const E& e) { return e.fit.n_clipped; });
  out["widths_tied"] = column<bool>(ev, [](const E& e) { return e.fit.widths_tied; });
  out["score"] = column<double>(ev, [](const E& e) { return e.score; });
  return out;
}

py::dict dip_fit(const Array<double>& time, const Array<double>& flux, const Array<double>& flux_err, double f0, double amplitude,
                 double t0, double sigma_rise, double sigma_fall) {
  if (time.size() != flux.size() || time.size() != flux_err.size())
    throw Error("fit_dip: time, flux and flux_err must have the same length");
  for (py::ssize_t i = 0; i < time.size(); ++i)
    if (!std::isfinite(time.data()[i]) || !std::isfinite(flux.data()[i]) || !(flux_err.data()[i] > 0) ||
        !std::isfinite(flux_err.data()[i]))
      throw Error("fit_dip: point " + std::to_string(i) + ": time and flux must be finite and flux_err positive");
  if (!(sigma_rise > 0 && sigma_fall > 0)) throw Error("fit_dip: the initial sigma_rise and sigma_fall must be positive");
  DipFit f;
  {
    py::gil_scoped_release unlocked;
    f = fit_asymmetric_gaussian_dip(time.data(), flux.data(), flux_err.data(), time.size(),
                                    {f0, amplitude, t0, sigma_rise, sigma_fall});
  }
  py::dict out;
  out["status"] = static_cast<int>(f.status);
  out["f0"] = f.f0, out["f0_err"] = f.f0_err, out["amplitude"] = f.amplitude, out["amplitude_err"] = f.amplitude_err;
  out["t0"] = f.t0, out["t0_err"] = f.t0_err, out["sigma_rise"] = f.sigma_rise, out["sigma_rise_err"] = f.sigma_rise_err;
  out["sigma_fall"] = f.sigma_fall, out["sigma_fall_err"] = f.sigma_fall_err;
  out["chi2_dip"] = f.chi2_dip, out["chi2_flat"] = f.chi2_flat, out["delta_chi2"] = f.delta_chi2,
  out["iterations"] = f.iterations;
  return out;
}

}  // namespace

LODESTAR_PYTHON_BINDING(lightcurve) {
  m.def("lightcurve_features", &lightcurve_features, py::arg("offsets"), py::arg("time"), py::arg("mag"), py::arg("mag_err"),
        py::arg("band"),
        "Per object x band light-curve features from CSR columns (band codes 0=g, 1=r, 2=i); returns a dict of numpy arrays");
  m.def("find_dimming_events", &dimming_events, py::arg("offsets"), py::arg("time"), py::arg("mag"), py::arg("mag_err"),
        py::arg("band"), py::arg("k_sigma") = 3.0, py::arg("min_points") = 3, py::arg("min_depth_mag") = 0.05,
        py::arg("extend_sigma") = NAN, py::arg("min_baseline_points") = 5, py::arg("max_harmonic") = 20,
        py::arg("fit_padding_factor") = 2.0, py::arg("min_fit_padding_days") = 10.0, py::arg("fit") = true,
        py::arg("max_run_gap_days") = 60.0,
        "Dimming events (one row per event) with periodicity flag, asymmetric-Gaussian GSL fit and score; dict of numpy arrays. "
        "extend_sigma defaults to min(1.5, k_sigma).");
  m.def("fit_dip", &dip_fit, py::arg("time"), py::arg("flux"), py::arg("flux_err"), py::arg("f0"), py::arg("amplitude"),
        py::arg("t0"), py::arg("sigma_rise"), py::arg("sigma_fall"),
        "GSL fit of F0*(1 - A*exp(-(t-t0)^2/(2 sigma^2))) (sigma_rise before t0, sigma_fall after) from an initial guess");
}
