// The dip fit of one detected event, made robust for real light curves: a
// starting point from a small grid (closed-form depth and flat level for each
// trial position and widths), the GSL fit (dip_fit.hpp) from there, then a few
// rounds of rejecting isolated outliers (> kClipSigma from the fitted model)
// and refitting. Definitions: docs/lightcurves.md ("The dip model and fit").
#pragma once

#include <cstddef>
#include <vector>

#include "lightcurve/dip_fit.hpp"

namespace lodestar::lightcurve {

inline constexpr double kClipSigma = 5.0;       // a point this far from the fitted model (in its errors) is an outlier
inline constexpr double kIsolationSigma = 3.0;  // ... unless a time neighbour deviates the same way by this much
inline constexpr double kCauchyScale = 3.0;     // robust loss scale, in errors, of the fit that locates the dip
inline constexpr int kMinCorePoints = 2;        // start trials need this many detections within 1 sigma of t0
inline constexpr int kMinFlankPoints = 1;       // detections in each flank of the dip (>= kFlankSigma deep) for free widths
inline constexpr double kFlankSigma = 3.0;
inline constexpr double kTiedChi2Tolerance = 9.0;  // the tied fit is kept unless its chi^2 is this much worse

// Where the event fit starts: the best grid trial, and the best trial whose flat level and depth were solved
// without the isolated spikes (points off both time neighbours the same way by > kClipSigma errors), if any.
struct DipStarts {
  DipFitGuess guess;
  bool has_spike_free = false;
  DipFitGuess spike_free;
};

// Trial dip positions and widths around an event of the points (t, f, e) (time-ordered relative flux):
// t0 in {t_min, the minimum of the 3-point running median flux within [start, end], that minimum over all
// points}; each width in {1/4, 1/2, 1, 2, 4} x half the distance from t0 to the last non-event detection
// before the run (t_before) / the first after it (t_after). For each trial the flat level F0 and depth A are
// the weighted linear least-squares solution; trials with fewer than kMinCorePoints detections within 1 sigma
// of t0, or none on one side, are skipped, and the trial of least capped chi^2 (each point's term at most
// kClipSigma^2, so that outliers do not choose) is returned (A within [1e-3, 0.95]). When there are spikes,
// every trial is also solved without them, and the best of those (same capped ranking) is the spike-free start.
// `scratch` is reused between calls.
DipStarts dip_start(const double* t, const double* f, const double* e, size_t n, double t_min, double start, double end,
                    double t_before, double t_after, std::vector<double>& scratch);

// The event fit from `starts.guess`: (1) fit_asymmetric_gaussian_dip with the Cauchy loss (scale kCauchyScale) to
// locate the dip without letting an outlier capture the model; (2) the points more than kClipSigma errors from
// that model, and isolated (neither time neighbour off the same way by kIsolationSigma), are removed
// (worst first, at most max(2, n / 10)) from t/f/e; (3) plain least squares from the
// robust solution (the reported parameters, uncertainties and delta chi^2). (4) When a flank of that dip holds
// fewer than kMinFlankPoints detections where the model is >= kFlankSigma errors below F0 (the dip runs into a seasonal gap), or
// the fit did not converge, it is refitted with one width for both sides, starting from the observed flank's width; that fit is
// kept when a flank was open, or when it converged and the free one did not. (5) A result whose own uncertainty leaves
// the depth unconstrained (amplitude_err > amplitude) is refitted from `starts.guess` (free, then tied) and replaced by a
// constrained fit whose chi^2 is within kTiedChi2Tolerance; a result that is no dip (amplitude < 1e-3, or a width
// at kMinDipWidthDays) is refitted the same way and, if nothing better converges, reported as kInvalidResult
// instead of a success. (6) When that leaves no constrained dip (failed, still unconstrained, or held up by one
// detection: fewer than kMinCorePoints points within one width of t0) and there is a spike-free start, steps
// (1)-(4) run again from it on the points without the spikes; that fit replaces the result when it is a
// converged, constrained dip on at least kMinCorePoints points whose chi^2 capped at kClipSigma^2 per point (over
// all the points: the two fits drop different ones) is within kTiedChi2Tolerance of the result's, or when the
// result failed. t/f/e are left as the points of the returned fit. n_points counts the points fitted, n_clipped
// those removed (the spikes included).
DipFit fit_dip_clipped(std::vector<double>& t, std::vector<double>& f, std::vector<double>& e, const DipStarts& starts);

}  // namespace lodestar::lightcurve
