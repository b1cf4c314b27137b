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

}  // namespace

DipFitGuess dip_start(const double* t, const double* f, const double* e, size_t n, double t_min, double start, double end,
                      double t_before, double t_after, std::vector<double>& w) {
  DipFitGuess best;
  best.t0 = t_min;
  best.sigma_rise = std::max(0.5 * (t_min - t_before), 0.05);
  best.sigma_fall = std::max(0.5 * (t_after - t_min), 0.05);
  if (n == 0) return best;
  w.resize(n);
  double sw = 0.0, swy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    w[i] = 1.0 / (e[i] * e[i]);
    sw += w[i], swy += w[i] * f[i];
  }
  double centres[3] = {t_min, smoothed_minimum(t, f, n, start, end), smoothed_minimum(t, f, n, -INFINITY, INFINITY)};
  constexpr double kScales[5] = {0.25, 0.5, 1.0, 2.0, 4.0};
  double best_chi2 = INFINITY;
  for (int c = 0; c < 3; ++c) {
    const double t0 = centres[c];
    if (!std::isfinite(t0) || (c > 0 && t0 == centres[0]) || (c == 2 && t0 == centres[1])) continue;
    const double base_rise = std::max(0.5 * std::fabs(t0 - t_before), 0.05);
    const double base_fall = std::max(0.5 * std::fabs(t_after - t0), 0.05);
    for (double kr : kScales) {
      const double ir = 0.5 / (base_rise * kr * base_rise * kr);
      for (double kf : kScales) {
        const double inv_fall = 0.5 / (base_fall * kf * base_fall * kf);
        // Model y = F0 - B g(t), B = F0 A: weighted linear least squares in (F0, B).
        double swg = 0.0, swgg = 0.0, swyg = 0.0;
        int core_rise = 0, core_fall = 0;  // points within 1 sigma of t0 on each side
        for (size_t i = 0; i < n; ++i) {
          const double dt = t[i] - t0;
          const double x = dt * dt * (dt < 0 ? ir : inv_fall);
          if (x > 40.0) continue;  // exp(-40): no contribution
          if (x <= 0.5) (dt < 0 ? core_rise : core_fall) += 1;
          const double g = std::exp(-x);
          swg += w[i] * g, swgg += w[i] * g * g, swyg += w[i] * f[i] * g;
        }
        // A "dip" seen by one detection is an outlier; and each side of the minimum must be seen.
        if (core_rise + core_fall < kMinCorePoints || core_rise == 0 || core_fall == 0) continue;
        const double det = sw * swgg - swg * swg;
        if (!(det > 1e-12 * sw * swgg)) continue;  // the dip covers no point, or all points alike
        const double f0 = (swy * swgg - swg * swyg) / det;
        const double b = (swy * swg - sw * swyg) / det;
        if (!(f0 > 0.0 && b > 0.0)) continue;  // a bump, not a dip
        // Ranked by the robust loss, so that outliers do not choose the start.
        double chi2 = 0.0;
        const double c2 = kCauchyScale * kCauchyScale;
        for (size_t i = 0; i < n; ++i) {
          const double dt = t[i] - t0;
          const double x = dt * dt * (dt < 0 ? ir : inv_fall);
          const double r = (f0 - b * (x > 40.0 ? 0.0 : std::exp(-x)) - f[i]) / e[i];
          chi2 += std::log1p(r * r / c2);
        }
        if (chi2 < best_chi2) {
          best_chi2 = chi2;
          best.f0 = f0;
          best.amplitude = std::clamp(b / f0, 1e-3, 0.95);
          best.t0 = t0;
          best.sigma_rise = base_rise * kr;
          best.sigma_fall = base_fall * kf;
        }
      }
    }
  }
  if (!std::isfinite(best_chi2)) best.amplitude = 0.1;
  return best;
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

}  // namespace

DipFit fit_dip_clipped(std::vector<double>& t, std::vector<double>& f, std::vector<double>& e, const DipFitGuess& guess) {
  // Find the dip with the robust loss (an outlier cannot capture the model as a spike), reject the points far from
  // that model, then fit plain least squares from there (uncertainties and delta chi^2 of the standard problem).
  DipFitOptions robust;
  robust.cauchy_scale = kCauchyScale;
  const DipFit located = fit_asymmetric_gaussian_dip(t.data(), f.data(), e.data(), t.size(), guess, robust);
  size_t clipped = 0;
  DipFitGuess from = guess;
  if (usable(located)) {
    from = guess_from(located);
    const size_t budget = std::max<size_t>(2, t.size() / 10);
    std::vector<std::pair<double, size_t>> bad;
    for (size_t i = 0; i < t.size(); ++i) {
      const double r = std::fabs(asymmetric_gaussian_dip(t[i], located.f0, located.amplitude, located.t0, located.sigma_rise,
                                                         located.sigma_fall) -
                                 f[i]) /
                       e[i];
      if (r > kClipSigma) bad.push_back({r, i});
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

}  // namespace lodestar::lightcurve
