#include "lightcurve/event_fit.hpp"

#include <algorithm>
#include <cmath>

namespace lodestar::lightcurve {

namespace {

double median3(double a, double b, double c) { return std::max(std::min(a, b), std::min(std::max(a, b), c)); }

// Time of the minimum of the 3-point running median flux among points with t in [lo, hi] (NaN if none).
double smoothed_minimum(const double* t, const double* f, size_t n, double lo, double hi) {
  double best = INFINITY, at = NAN;
  for (size_t i = 0; i < n; ++i) {
    if (t[i] < lo || t[i] > hi) continue;
    const double m = (i == 0 || i + 1 == n) ? f[i] : median3(f[i - 1], f[i], f[i + 1]);
    if (m < best) best = m, at = t[i];
  }
  return at;
}

// Marks isolated spikes: points (with a time neighbour on each side) more than kClipSigma errors from the
// median of themselves and their two neighbours, i.e. off both neighbours the same way. Returns their number.
size_t mark_spikes(const double* f, const double* e, size_t n, std::vector<char>& spike) {
  spike.assign(n, 0);
  size_t count = 0;
  for (size_t i = 1; i + 1 < n; ++i)
    if (std::fabs(f[i] - median3(f[i - 1], f[i], f[i + 1])) > kClipSigma * e[i]) spike[i] = 1, ++count;
  return count;
}

}  // namespace

DipStarts dip_start(const double* t, const double* f, const double* e, size_t n, double t_min, double start, double end,
                    double t_before, double t_after, std::vector<double>& scratch) {
  DipStarts starts;
  DipFitGuess& best = starts.guess;
  best.t0 = t_min;
  best.sigma_rise = std::max(0.5 * (t_min - t_before), 0.05);
  best.sigma_fall = std::max(0.5 * (t_after - t_min), 0.05);
  if (n == 0) return starts;
  constexpr int kNumScales = 5;
  constexpr double kScales[kNumScales] = {0.25, 0.5, 1.0, 2.0, 4.0};
  // scratch: weights, then g(t_i) for each side's kNumScales widths (rise entries before t0, fall entries after).
  scratch.resize(n * (1 + kNumScales));
  double* w = scratch.data();
  thread_local std::vector<char> spike;
  const int n_parts = mark_spikes(f, e, n, spike) > 0 ? 2 : 1;
  // Weighted sums over all points [0] and over the spikes alone [1] (the spike-free trial subtracts [1]).
  double sw[2] = {0.0, 0.0}, swy[2] = {0.0, 0.0};
  for (size_t i = 0; i < n; ++i) {
    w[i] = 1.0 / (e[i] * e[i]);
    sw[0] += w[i], swy[0] += w[i] * f[i];
    if (spike[i]) sw[1] += w[i], swy[1] += w[i] * f[i];
  }
  const double centres[3] = {t_min, smoothed_minimum(t, f, n, start, end), smoothed_minimum(t, f, n, -INFINITY, INFINITY)};
  const double cap = kClipSigma * kClipSigma;
  double best_loss[2] = {INFINITY, INFINITY};  // of starts.guess, of starts.spike_free
  for (int c = 0; c < 3; ++c) {
    const double t0 = centres[c];
    if (!std::isfinite(t0) || (c > 0 && t0 == centres[0]) || (c == 2 && t0 == centres[1])) continue;
    const size_t split = static_cast<size_t>(std::lower_bound(t, t + n, t0) - t);  // points before t0: the rise
    const double base[2] = {std::max(0.5 * std::fabs(t0 - t_before), 0.05), std::max(0.5 * std::fabs(t_after - t0), 0.05)};
    // Per side and width: the dip shape g at the side's points and its weighted sums (the trials combine them).
    // [side][k][0]: all points; [side][k][1]: the spikes alone.
    double swg[2][kNumScales][2], swgg[2][kNumScales][2], swyg[2][kNumScales][2];
    int core[2][kNumScales];
    for (int k = 0; k < kNumScales; ++k) {
      double* g = scratch.data() + n * (1 + k);
      for (int side = 0; side < 2; ++side) {
        const double sigma = base[side] * kScales[k];
        const double inv = 0.5 / (sigma * sigma);
        double a[2] = {0.0, 0.0}, b[2] = {0.0, 0.0}, y[2] = {0.0, 0.0};
        int inside = 0;
        const size_t lo = side == 0 ? 0 : split, hi = side == 0 ? split : n;
        for (size_t i = lo; i < hi; ++i) {
          const double x = (t[i] - t0) * (t[i] - t0) * inv;
          if (x <= 0.5) ++inside;
          g[i] = x > 40.0 ? 0.0 : std::exp(-x);  // exp(-40): no contribution
          a[0] += w[i] * g[i], b[0] += w[i] * g[i] * g[i], y[0] += w[i] * f[i] * g[i];
          if (spike[i]) a[1] += w[i] * g[i], b[1] += w[i] * g[i] * g[i], y[1] += w[i] * f[i] * g[i];
        }
        for (int part = 0; part < 2; ++part)
          swg[side][k][part] = a[part], swgg[side][k][part] = b[part], swyg[side][k][part] = y[part];
        core[side][k] = inside;
      }
    }
    for (int kr = 0; kr < kNumScales; ++kr) {
      for (int kf = 0; kf < kNumScales; ++kf) {
        // A "dip" seen by one detection is an outlier; and each side of the minimum must be seen.
        const int core_rise = core[0][kr], core_fall = core[1][kf];
        if (core_rise + core_fall < kMinCorePoints || core_rise == 0 || core_fall == 0) continue;
        // Model y = F0 - B g(t), B = F0 A: weighted linear least squares in (F0, B), over all points [part 0]
        // and without the spikes [part 1].
        for (int part = 0; part < n_parts; ++part) {
          const double sign = part == 0 ? 0.0 : -1.0;
          const double s0 = sw[0] + sign * sw[1], sy = swy[0] + sign * swy[1];
          const double sg = swg[0][kr][0] + swg[1][kf][0] + sign * (swg[0][kr][1] + swg[1][kf][1]);
          const double sgg = swgg[0][kr][0] + swgg[1][kf][0] + sign * (swgg[0][kr][1] + swgg[1][kf][1]);
          const double syg = swyg[0][kr][0] + swyg[1][kf][0] + sign * (swyg[0][kr][1] + swyg[1][kf][1]);
          const double det = s0 * sgg - sg * sg;
          if (!(det > 1e-12 * s0 * sgg)) continue;  // the dip covers no point, or all points alike
          const double f0 = (sy * sgg - sg * syg) / det;
          const double b = (sy * sg - s0 * syg) / det;
          if (!(f0 > 0.0 && b > 0.0)) continue;  // a bump, not a dip
          // Both ranked by chi^2 over all points with each term capped at kClipSigma^2, so that outliers do
          // not choose the start.
          const double* g_rise = scratch.data() + n * (1 + kr);
          const double* g_fall = scratch.data() + n * (1 + kf);
          double loss = 0.0;
          for (size_t i = 0; i < n; ++i) {
            const double r = (f0 - b * (i < split ? g_rise[i] : g_fall[i]) - f[i]) / e[i];
            loss += std::min(r * r, cap);
          }
          if (!(loss < best_loss[part])) continue;
          best_loss[part] = loss;
          DipFitGuess& to = part == 0 ? starts.guess : starts.spike_free;
          to.f0 = f0;
          to.amplitude = std::clamp(b / f0, 1e-3, 0.95);
          to.t0 = t0;
          to.sigma_rise = base[0] * kScales[kr];
          to.sigma_fall = base[1] * kScales[kf];
        }
      }
    }
  }
  if (!std::isfinite(best_loss[0])) best.amplitude = 0.1;
  starts.has_spike_free = std::isfinite(best_loss[1]);
  return starts;
}

namespace {

bool usable(const DipFit& fit) {
  return fit.status != DipFitStatus::kTooFewPoints && std::isfinite(fit.chi2_dip) && std::isfinite(fit.f0) &&
         std::isfinite(fit.amplitude) && std::isfinite(fit.t0) && std::isfinite(fit.sigma_rise) && std::isfinite(fit.sigma_fall);
}

DipFitGuess guess_from(const DipFit& fit) {
  DipFitGuess g;
  g.f0 = fit.f0;
  g.amplitude = std::clamp(fit.amplitude, 1e-3, 0.999);
  g.t0 = fit.t0;
  g.sigma_rise = std::max(fit.sigma_rise, 1e-4);
  g.sigma_fall = std::max(fit.sigma_fall, 1e-4);
  return g;
}

std::vector<double>& scratch_residuals(size_t n) {
  thread_local std::vector<double> r;
  r.resize(n);
  return r;
}

// A converged fit that is no dip: no depth left, or a width run onto its lower bound (the model collapsed onto
// a single point, often outside the event).
bool degenerate(const DipFit& fit) {
  return fit.status == DipFitStatus::kOk &&
         (fit.amplitude < 1e-3 || std::min(fit.sigma_rise, fit.sigma_fall) <= 1.01 * kMinDipWidthDays);
}

// A fit whose own uncertainty leaves the depth unconstrained (sigma_A above A): typically the minimum was put
// in a gap, as deep as the bound allows.
bool unconstrained(const DipFit& fit) { return fit.status == DipFitStatus::kOk && !(fit.amplitude_err <= fit.amplitude); }

DipFit fit_dip_clipped_once(std::vector<double>& t, std::vector<double>& f, std::vector<double>& e, const DipFitGuess& guess) {
  // Find the dip with the robust loss (an outlier cannot capture the model as a spike), reject the points far from
  // that model, then fit plain least squares from there (uncertainties and delta chi^2 of the standard problem).
  DipFitOptions robust;
  robust.cauchy_scale = kCauchyScale;
  robust.max_iterations = 30;  // it only locates the dip; the plain fit converges from there
  const DipFit located = fit_asymmetric_gaussian_dip(t.data(), f.data(), e.data(), t.size(), guess, robust);
  size_t clipped = 0;
  DipFitGuess from = guess;
  if (usable(located)) {
    from = guess_from(located);
    const size_t budget = std::max<size_t>(2, t.size() / 10);
    std::vector<std::pair<double, size_t>> bad;
    std::vector<double>& r = scratch_residuals(t.size());
    for (size_t i = 0; i < t.size(); ++i)
      r[i] = (f[i] -
              asymmetric_gaussian_dip(t[i], located.f0, located.amplitude, located.t0, located.sigma_rise, located.sigma_fall)) /
             e[i];
    // Isolated outliers only: a point whose time neighbours deviate the same way by kIsolationSigma or more
    // is part of something real the model lacks (e.g. a second dip), not an outlier.
    for (size_t i = 0; i < t.size(); ++i) {
      if (std::fabs(r[i]) <= kClipSigma) continue;
      const bool prev_same = i > 0 && r[i - 1] * std::copysign(1.0, r[i]) >= kIsolationSigma;
      const bool next_same = i + 1 < t.size() && r[i + 1] * std::copysign(1.0, r[i]) >= kIsolationSigma;
      if (!prev_same && !next_same) bad.push_back({std::fabs(r[i]), i});
    }
    std::sort(bad.begin(), bad.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    bad.resize(std::min(bad.size(), budget));
    if (!bad.empty()) {
      std::vector<bool> drop(t.size(), false);
      for (const auto& [r, i] : bad) drop[i] = true;
      size_t k = 0;
      for (size_t i = 0; i < t.size(); ++i)
        if (!drop[i]) t[k] = t[i], f[k] = f[i], e[k] = e[i], ++k;
      t.resize(k), f.resize(k), e.resize(k);
      clipped = bad.size();
    }
  }
  DipFit fit = fit_asymmetric_gaussian_dip(t.data(), f.data(), e.data(), t.size(), from);
  fit.n_clipped = static_cast<int>(clipped);
  if (!usable(fit)) return fit;

  // A flank without detections (the dip runs into a seasonal gap) leaves its width, and with it the depth,
  // unconstrained: fit one width for both sides instead. Likewise when the free fit did not converge.
  int rise = 0, fall = 0;  // detections where the fitted dip is >= kFlankSigma errors deep
  for (size_t i = 0; i < t.size(); ++i) {
    const double deficit = fit.f0 - asymmetric_gaussian_dip(t[i], fit.f0, fit.amplitude, fit.t0, fit.sigma_rise, fit.sigma_fall);
    if (deficit >= kFlankSigma * e[i]) (t[i] < fit.t0 ? rise : fall) += 1;
  }
  const bool open_flank = rise < kMinFlankPoints || fall < kMinFlankPoints;
  if (!open_flank && fit.status == DipFitStatus::kOk) return fit;
  DipFitGuess g = guess_from(fit);
  g.sigma_rise = g.sigma_fall = rise >= fall ? g.sigma_rise : g.sigma_fall;  // the observed flank's width
  DipFitOptions tie;
  tie.tie_widths = true;
  DipFit tied = fit_asymmetric_gaussian_dip(t.data(), f.data(), e.data(), t.size(), g, tie);
  tied.n_clipped = fit.n_clipped;
  if (!usable(tied)) return fit;
  if (fit.status != DipFitStatus::kOk) return tied.status == DipFitStatus::kOk ? tied : fit;
  // Symmetry is the assumption for the unseen flank, unless the data reject it.
  return tied.status == DipFitStatus::kOk && tied.chi2_dip - fit.chi2_dip < kTiedChi2Tolerance ? tied : fit;
}

// Step (5): refits the (clipped) points from the grid's start (near the observed minimum), free and with tied
// widths, and keeps the best refit that is a dip. An unconstrained fit is replaced only by a constrained refit
// the data do not reject; a fit that is no dip by any dip, and if there is none it failed, and says so.
DipFit refit_from_guess(std::vector<double>& t, std::vector<double>& f, std::vector<double>& e, const DipFitGuess& guess,
                        const DipFit& fit) {
  const bool no_dip = degenerate(fit);
  DipFit best = fit;
  bool replaced = false;
  for (const bool tie : {false, true}) {
    DipFitOptions o;
    o.tie_widths = tie;
    DipFit retry = fit_asymmetric_gaussian_dip(t.data(), f.data(), e.data(), t.size(), guess, o);
    retry.n_clipped = fit.n_clipped;
    if (!usable(retry) || retry.status != DipFitStatus::kOk || degenerate(retry)) continue;
    if (!no_dip && (unconstrained(retry) || retry.chi2_dip - fit.chi2_dip >= kTiedChi2Tolerance)) continue;
    if (!replaced || retry.chi2_dip < best.chi2_dip) best = retry, replaced = true;
  }
  if (no_dip && !replaced) best.status = DipFitStatus::kInvalidResult;
  return best;
}

// A converged fit held up by a single detection: fewer than kMinCorePoints points within one width of t0 (the
// start grid's minimum count of core points, applied to the result). Typically the model collapsed onto an
// outlier.
bool on_one_point(const DipFit& fit, const std::vector<double>& t) {
  if (fit.status != DipFitStatus::kOk) return false;
  const auto lo = std::lower_bound(t.begin(), t.end(), fit.t0 - fit.sigma_rise);
  const auto hi = std::upper_bound(t.begin(), t.end(), fit.t0 + fit.sigma_fall);
  return hi - lo < kMinCorePoints;
}

// chi^2 of a fit's model over the points, each term capped at kClipSigma^2: comparable between fits that
// clipped different outliers.
double capped_chi2(const DipFit& fit, const std::vector<double>& t, const std::vector<double>& f, const std::vector<double>& e) {
  double sum = 0.0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double r = (f[i] - asymmetric_gaussian_dip(t[i], fit.f0, fit.amplitude, fit.t0, fit.sigma_rise, fit.sigma_fall)) / e[i];
    sum += std::min(r * r, kClipSigma * kClipSigma);
  }
  return sum;
}

}  // namespace

DipFit fit_dip_clipped(std::vector<double>& t, std::vector<double>& f, std::vector<double>& e, const DipStarts& starts) {
  std::vector<double> t_all, f_all, e_all;  // the points before clipping, for the spike-free start
  if (starts.has_spike_free) t_all = t, f_all = f, e_all = e;
  DipFit fit = fit_dip_clipped_once(t, f, e, starts.guess);
  if (degenerate(fit) || unconstrained(fit)) fit = refit_from_guess(t, f, e, starts.guess, fit);
  const bool failed = fit.status != DipFitStatus::kOk;
  if (!starts.has_spike_free || !(failed || unconstrained(fit) || on_one_point(fit, t))) return fit;
  // Still no constrained dip, or one held up by a single point: fit again without the spikes, from the trial
  // solved without them (one spike, e.g. an outlier inside a wide dip, can set the depth of every trial and
  // lead the fit onto itself). Kept when it is a constrained dip whose capped chi^2 over all points is within
  // kTiedChi2Tolerance of the fit it replaces.
  std::vector<char> spike;
  const size_t n_spikes = mark_spikes(f_all.data(), e_all.data(), f_all.size(), spike);
  std::vector<double> t2, f2, e2;
  for (size_t i = 0; i < t_all.size(); ++i)
    if (!spike[i]) t2.push_back(t_all[i]), f2.push_back(f_all[i]), e2.push_back(e_all[i]);
  DipFit alt = fit_dip_clipped_once(t2, f2, e2, starts.spike_free);
  alt.n_clipped += static_cast<int>(n_spikes);
  if (alt.status != DipFitStatus::kOk || !usable(alt) || degenerate(alt) || unconstrained(alt) || on_one_point(alt, t2))
    return fit;
  if (!failed && capped_chi2(alt, t_all, f_all, e_all) - capped_chi2(fit, t_all, f_all, e_all) >= kTiedChi2Tolerance) return fit;
  t.swap(t2), f.swap(f2), e.swap(e2);
  return alt;
}

}  // namespace lodestar::lightcurve
