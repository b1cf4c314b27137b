#include "lightcurve/light_curve_columns.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/duckdb_handles.hpp"

namespace lodestar::lightcurve {

const char* band_name(int band) {
  switch (band) {
    case kBandG:
      return "g";
    case kBandR:
      return "r";
    case kBandI:
      return "i";
    default:
      return "?";
  }
}

namespace {
std::string where(size_t object, int64_t row) {
  return "object " + std::to_string(object) + ", detection " + std::to_string(row);
}
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

void validate(const LightCurveColumns& lc) {
  const size_t n = lc.time.size();
  if (lc.mag.size() != n || lc.mag_err.size() != n || lc.band.size() != n)
    throw Error("light curves: time, mag, mag_err and band must have the same length, got " + std::to_string(lc.time.size()) +
                ", " + std::to_string(lc.mag.size()) + ", " + std::to_string(lc.mag_err.size()) + ", " +
                std::to_string(lc.band.size()));
  if (lc.offsets.empty()) throw Error("light curves: offsets must have n_objects + 1 entries (at least [0]), got an empty array");
  if (lc.offsets.front() != 0) throw Error("light curves: offsets[0] must be 0, got " + std::to_string(lc.offsets.front()));
  for (size_t i = 0; i + 1 < lc.offsets.size(); ++i) {
    if (lc.offsets[i + 1] < lc.offsets[i])
      throw Error("light curves: offsets must be non-decreasing, but object " + std::to_string(i) + " has offsets[" +
                  std::to_string(i) + "] = " + std::to_string(lc.offsets[i]) + " > offsets[" + std::to_string(i + 1) +
                  "] = " + std::to_string(lc.offsets[i + 1]));
  }
  if (lc.offsets.back() != static_cast<int64_t>(n))
    throw Error("light curves: offsets must end at the number of detections (" + std::to_string(n) + "), got offsets[" +
                std::to_string(lc.offsets.size() - 1) + "] = " + std::to_string(lc.offsets.back()) +
                " (offsets needs n_objects + 1 entries)");
  for (size_t obj = 0; obj < lc.n_objects(); ++obj) {
    for (int64_t j = lc.offsets[obj]; j < lc.offsets[obj + 1]; ++j) {
      if (!std::isfinite(lc.time[j]))
        throw Error("light curves: " + where(obj, j) + ": time must be finite, got " + num(lc.time[j]));
      const int b = lc.band[j];
      if (b < 0 || b >= kNumBands)
        throw Error("light curves: " + where(obj, j) + ": unknown band code " + std::to_string(b) +
                    " (expected 0 = g, 1 = r, 2 = i)");
      if (std::isfinite(lc.mag[j]) && !(std::isfinite(lc.mag_err[j]) && lc.mag_err[j] > 0.0))
        throw Error("light curves: " + where(obj, j) + ": mag_err must be positive and finite where mag is given, got " +
                    num(lc.mag_err[j]));
      if (std::isinf(lc.mag[j]))
        throw Error("light curves: " + where(obj, j) + ": mag must be finite or NaN (missing), got " + num(lc.mag[j]));
    }
  }
}

void usable_detections_in_time_order(const LightCurveColumns& lc, size_t object, std::vector<int64_t>& out) {
  out.clear();
  bool sorted = true;
  for (int64_t j = lc.offsets[object]; j < lc.offsets[object + 1]; ++j) {
    if (!std::isfinite(lc.mag[j])) continue;
    if (!out.empty() && lc.time[j] < lc.time[out.back()]) sorted = false;
    out.push_back(j);
  }
  if (!sorted) std::stable_sort(out.begin(), out.end(), [&](int64_t a, int64_t b) { return lc.time[a] < lc.time[b]; });
}

}  // namespace lodestar::lightcurve
