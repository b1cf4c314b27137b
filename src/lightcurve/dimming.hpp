// Search for dimming events (Boyajian-star-like dips) in CSR light curves:
// robust per-band baselines, runs of significantly faint detections, a
// periodicity test that sets eclipsing binaries aside, and a GSL fit of an
// asymmetric Gaussian dip per event. Single-threaded per call; callers
// parallelize over partitions. Definitions: docs/lightcurves.md.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "lightcurve/dip_fit.hpp"
#include "lightcurve/light_curve_columns.hpp"

namespace lodestar::lightcurve {

struct DimmingParams {
  double k_sigma = 3.0;       // a detection is "faint" when (mag - baseline) >= k_sigma * sigma_i
  double extend_sigma = 1.5;  // a run continues through detections >= extend_sigma * sigma_i (hysteresis; = k_sigma disables)
  int min_points = 3;         // faint (>= k_sigma) detections needed in a run
  // A run stops at a gap between consecutive detections longer than this (days): across a seasonal gap the
  // faint detections on the two sides are two events (often two dips), each fitted on its own.
  double max_run_gap_days = 60.0;
  double min_depth_mag = 0.05;      // deepest residual of the run, mag
  int min_baseline_points = 5;      // a band with fewer usable detections has no baseline: its detections are not searched
  int max_harmonic = 20;            // periodicity: candidate periods are (anchor separation) / n, n = 1..max_harmonic
  double fit_padding_factor = 2.0;  // fit window: the event extended on each side by max(factor * duration, min_fit_padding_days)
  double min_fit_padding_days = 10.0;
  bool fit = true;
  void check() const;  // throws lodestar::Error on nonsense values
};

struct DimmingEvent {
  int64_t object_index = 0;
  int32_t event_index = 0;                        // within the object, in time order
  double start = NAN, end = NAN, duration = NAN;  // MJD of the first / last detection of the run, and their difference (days)
  double t_min = NAN;                             // time of the deepest detection
  double depth_mag = NAN;                         // deepest residual (mag above the band baseline)
  double depth_frac = NAN;                        // 1 - 10^(-0.4 depth_mag): fractional flux loss at the deepest detection
  double significance = NAN;                      // sum(z_i) / sqrt(n) over the run, z_i = residual_i / sigma_i
  int32_t n_points = 0;                           // detections in the run
  int32_t n_faint = 0;                            // of which >= k_sigma
  uint8_t bands_mask = 0;                         // bit b set when band b has a detection in the run
  bool periodic = false;                          // the object's dips repeat at a consistent period (eclipsing-binary-like)
  double period = NAN;                            // that period (days) when periodic
  DipFit fit;
  double score = 0.0;  // ranking: see score_event()
};

// Ranking score: sqrt(max(delta_chi2, 0)) of the dip fit (the significance of
// the dip model over a flat light curve), or the run significance when the fit
// did not succeed; 0 for periodic objects (not Boyajian-like candidates).
double score_event(const DimmingEvent& e);

// Validates the columns and parameters, then returns the events of all objects
// (objects in input order, events in time order).
std::vector<DimmingEvent> find_dimming_events(const LightCurveColumns& lc, const DimmingParams& params = {});

}  // namespace lodestar::lightcurve
