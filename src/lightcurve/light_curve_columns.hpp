// The columnar (CSR) light-curve layout shared by every light-curve kernel, and
// its validation. One object's detections are rows [offsets[i], offsets[i+1])
// of the flat arrays; the kernels never copy the columns, they only read them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lodestar::lightcurve {

// Photometric band codes used in the `band` column.
enum Band : int8_t { kBandG = 0, kBandR = 1, kBandI = 2 };
inline constexpr int kNumBands = 3;
const char* band_name(int band);  // "g", "r", "i"

struct LightCurveColumns {
  std::span<const int64_t> offsets;  // n_objects + 1 entries, offsets[0] == 0, non-decreasing, last == n_detections
  std::span<const double> time;      // MJD (days)
  std::span<const double> mag;       // NaN = missing measurement, skipped
  std::span<const double> mag_err;   // > 0 and finite wherever mag is finite
  std::span<const int8_t> band;      // Band codes 0 = g, 1 = r, 2 = i
  size_t n_objects() const { return offsets.empty() ? 0 : offsets.size() - 1; }
};

// Checks the layout and the values; throws lodestar::Error naming the object
// index, the detection and the problem. Rules:
//  - all flat arrays have the same length; offsets has n_objects + 1 entries, starts at 0, never decreases and
//    ends at the number of detections;
//  - time is finite (it orders the light curve); band is 0, 1 or 2;
//  - where mag is finite, mag_err is finite and > 0 (a zero error would give infinite weight).
// Unsorted times and duplicate timestamps are allowed (kernels sort each object internally, stably).
void validate(const LightCurveColumns& lc);

// The usable detections of one object: indices into the flat arrays of the
// rows with a finite magnitude, sorted by time (stable, so duplicate
// timestamps keep their input order).
void usable_detections_in_time_order(const LightCurveColumns& lc, size_t object, std::vector<int64_t>& out);

}  // namespace lodestar::lightcurve
