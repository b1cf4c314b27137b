// Least-squares fit of an asymmetric Gaussian dip in relative flux with GSL's
// trust-region nonlinear least squares (gsl_multifit_nlinear):
//   F(t) = F0 * (1 - A * exp(-(t - t0)^2 / (2 sigma^2))),  sigma = sigma_rise for t < t0, sigma_fall for t >= t0.
// Bounds by reparameterization: A = logistic(a) stays in (0, 1), t0 = c + h tanh(u)
// stays within the time range of the points, sigma = exp(s) stays positive;
// uncertainties are propagated back through these maps (first order).
#pragma once

#include <cmath>
#include <cstddef>

namespace lodestar::lightcurve {

struct DipFitGuess {
  double f0 = 1.0, amplitude = 0.1, t0 = 0.0, sigma_rise = 1.0, sigma_fall = 1.0;
};

enum class DipFitStatus : int { kOk = 0, kTooFewPoints = 1, kNotConverged = 2, kInvalidResult = 3 };

struct DipFit {
  DipFitStatus status = DipFitStatus::kTooFewPoints;
  double f0 = NAN, amplitude = NAN, t0 = NAN, sigma_rise = NAN, sigma_fall = NAN;
  double f0_err = NAN, amplitude_err = NAN, t0_err = NAN, sigma_rise_err = NAN, sigma_fall_err = NAN;
  double chi2_dip = NAN;    // chi^2 of the best-fit dip model
  double chi2_flat = NAN;   // chi^2 of the best constant (weighted mean flux)
  double delta_chi2 = NAN;  // chi2_flat - chi2_dip
  int n_points = 0;         // points fitted
  int n_clipped = 0;
  bool widths_tied =
      false;  // fitted with sigma_rise = sigma_fall  // outliers removed before the final fit (event fits, event_fit.hpp)
  int iterations = 0;
};

inline constexpr int kDipFitParameters = 5;

// The fitted widths are kept within [kMinDipWidthDays, 2 x the window's time span]; a width at the lower
// bound is a model collapsed onto one point, not a dip.
inline constexpr double kMinDipWidthDays = 1e-3;

struct DipFitOptions {
  int max_iterations = 200;
  bool tie_widths = false;  // one width for both sides: sigma_rise = sigma_fall (4 parameters)
  // > 0: minimize the Cauchy loss sum c^2 log(1 + (r_i / c)^2) of the normalized residuals r_i instead of
  // chi^2 (each residual is mapped to sign(r) sqrt(rho(r)), so GSL's least squares minimizes it); outliers
  // then pull the fit little. chi2_dip is still plain chi^2 at the solution; the uncertainties come from the
  // robust problem (refit without it for reportable ones).
  double cauchy_scale = 0.0;
};

// Fits the model to n points (flux, flux_err > 0). Uncertainties are the square
// roots of the covariance diagonal (J^T W J)^-1, scaled by sqrt(chi2_dip / dof)
// when that exceeds 1 (errors that underestimate the scatter widen the
// uncertainties, never shrink them). Needs n > 5 points. options.tie_widths starts from the geometric mean
// of the guessed widths.
DipFit fit_asymmetric_gaussian_dip(const double* time, const double* flux, const double* flux_err, size_t n,
                                   const DipFitGuess& guess, const DipFitOptions& options = {});

// The model itself (for tests and plots).
double asymmetric_gaussian_dip(double t, double f0, double amplitude, double t0, double sigma_rise, double sigma_fall);

}  // namespace lodestar::lightcurve
