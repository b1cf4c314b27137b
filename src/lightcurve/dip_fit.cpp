#include "lightcurve/dip_fit.hpp"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace lodestar::lightcurve {

double asymmetric_gaussian_dip(double t, double f0, double amplitude, double t0, double sigma_rise, double sigma_fall) {
  const double s = t < t0 ? sigma_rise : sigma_fall;
  const double u = (t - t0) / s;
  return f0 * (1.0 - amplitude * std::exp(-0.5 * u * u));
}

namespace {

struct Data {
  const double* t;
  const double* y;
  size_t n;
  double t_center, t_half;  // t0 is bounded to t_center +- t_half
};

// Internal parameters u = (F0, logit A, atanh((t0 - c) / h), log sigma_rise, log sigma_fall): the depth stays
// within (0, 1), t0 within the fit window and the widths positive, without a constrained optimizer.
struct Physical {
  double f0, a, t0, sr, sf;
  double da, dt0;  // d(physical)/d(internal) for A and t0
};

Physical to_physical(const gsl_vector* x, const Data& d) {
  Physical p;
  p.f0 = gsl_vector_get(x, 0);
  p.a = 1.0 / (1.0 + std::exp(-gsl_vector_get(x, 1)));
  const double th = std::tanh(gsl_vector_get(x, 2));
  p.t0 = d.t_center + d.t_half * th;
  p.sr = std::exp(gsl_vector_get(x, 3));
  p.sf = std::exp(gsl_vector_get(x, 4));
  p.da = p.a * (1.0 - p.a);
  p.dt0 = d.t_half * (1.0 - th * th);
  return p;
}

// Residual = model - y (GSL applies the weights).
int residuals(const gsl_vector* x, void* params, gsl_vector* f) {
  const auto* d = static_cast<const Data*>(params);
  const Physical p = to_physical(x, *d);
  for (size_t i = 0; i < d->n; ++i) gsl_vector_set(f, i, asymmetric_gaussian_dip(d->t[i], p.f0, p.a, p.t0, p.sr, p.sf) - d->y[i]);
  return GSL_SUCCESS;
}

int jacobian(const gsl_vector* x, void* params, gsl_matrix* J) {
  const auto* d = static_cast<const Data*>(params);
  const Physical p = to_physical(x, *d);
  for (size_t i = 0; i < d->n; ++i) {
    const double dt = d->t[i] - p.t0;
    const bool rise = d->t[i] < p.t0;
    const double s = rise ? p.sr : p.sf;
    const double g = std::exp(-0.5 * dt * dt / (s * s));
    gsl_matrix_set(J, i, 0, 1.0 - p.a * g);
    gsl_matrix_set(J, i, 1, -p.f0 * g * p.da);
    gsl_matrix_set(J, i, 2, -p.f0 * p.a * g * dt / (s * s) * p.dt0);
    const double dlogs = -p.f0 * p.a * g * dt * dt / (s * s);
    gsl_matrix_set(J, i, 3, rise ? dlogs : 0.0);
    gsl_matrix_set(J, i, 4, rise ? 0.0 : dlogs);
  }
  return GSL_SUCCESS;
}

struct WorkspaceDeleter {
  void operator()(gsl_multifit_nlinear_workspace* w) const { gsl_multifit_nlinear_free(w); }
};
struct MatrixDeleter {
  void operator()(gsl_matrix* m) const { gsl_matrix_free(m); }
};

}  // namespace

DipFit fit_asymmetric_gaussian_dip(const double* time, const double* flux, const double* flux_err, size_t n,
                                   const DipFitGuess& guess, int max_iterations) {
  // GSL's default error handler aborts the process; its status codes are handled here instead.
  static std::once_flag handler_off;
  std::call_once(handler_off, [] { gsl_set_error_handler_off(); });

  DipFit fit;
  fit.n_points = static_cast<int>(n);
  if (n <= static_cast<size_t>(kDipFitParameters)) return fit;

  // Flat model: weighted mean flux.
  double sw = 0.0, swy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double w = 1.0 / (flux_err[i] * flux_err[i]);
    sw += w, swy += w * flux[i];
  }
  const double flat = swy / sw;
  fit.chi2_flat = 0.0;
  for (size_t i = 0; i < n; ++i) fit.chi2_flat += std::pow((flux[i] - flat) / flux_err[i], 2);

  double t_lo = time[0], t_hi = time[0];
  for (size_t i = 0; i < n; ++i) t_lo = std::min(t_lo, time[i]), t_hi = std::max(t_hi, time[i]);
  Data data{time, flux, n, 0.5 * (t_lo + t_hi), std::max(0.5 * (t_hi - t_lo), 1e-6)};
  gsl_multifit_nlinear_fdf fdf{};
  fdf.f = residuals;
  fdf.df = jacobian;
  fdf.fvv = nullptr;
  fdf.n = n;
  fdf.p = kDipFitParameters;
  fdf.params = &data;

  std::vector<double> weights(n);
  for (size_t i = 0; i < n; ++i) weights[i] = 1.0 / (flux_err[i] * flux_err[i]);
  const double a0 = std::clamp(guess.amplitude, 1e-3, 0.999);
  const double u0 = std::clamp((guess.t0 - data.t_center) / data.t_half, -0.999, 0.999);
  double x0[kDipFitParameters] = {guess.f0, std::log(a0 / (1.0 - a0)), std::atanh(u0), std::log(guess.sigma_rise),
                                  std::log(guess.sigma_fall)};
  gsl_vector_view x = gsl_vector_view_array(x0, kDipFitParameters);
  gsl_vector_view wts = gsl_vector_view_array(weights.data(), n);

  gsl_multifit_nlinear_parameters settings = gsl_multifit_nlinear_default_parameters();
  std::unique_ptr<gsl_multifit_nlinear_workspace, WorkspaceDeleter> w(
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &settings, n, kDipFitParameters));
  if (!w) {
    fit.status = DipFitStatus::kInvalidResult;
    return fit;
  }
  gsl_multifit_nlinear_winit(&x.vector, &wts.vector, &fdf, w.get());
  int info = 0;
  const int status =
      gsl_multifit_nlinear_driver(static_cast<size_t>(max_iterations), 1e-10, 1e-10, 1e-10, nullptr, nullptr, &info, w.get());
  fit.iterations = static_cast<int>(gsl_multifit_nlinear_niter(w.get()));

  const gsl_vector* best = gsl_multifit_nlinear_position(w.get());
  const gsl_vector* resid = gsl_multifit_nlinear_residual(w.get());  // weighted residuals
  double chi2 = 0.0;
  gsl_blas_ddot(resid, resid, &chi2);
  std::unique_ptr<gsl_matrix, MatrixDeleter> covar(gsl_matrix_alloc(kDipFitParameters, kDipFitParameters));
  gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w.get()), 0.0, covar.get());
  const double dof = static_cast<double>(n) - kDipFitParameters;
  const double scale = std::sqrt(std::max(1.0, chi2 / dof));
  auto err = [&](int k) { return scale * std::sqrt(gsl_matrix_get(covar.get(), k, k)); };

  const Physical p = to_physical(best, data);
  fit.f0 = p.f0;
  fit.amplitude = p.a;
  fit.t0 = p.t0;
  fit.sigma_rise = p.sr;
  fit.sigma_fall = p.sf;
  fit.f0_err = err(0);
  fit.amplitude_err = p.da * err(1);
  fit.t0_err = p.dt0 * err(2);
  fit.sigma_rise_err = p.sr * err(3);
  fit.sigma_fall_err = p.sf * err(4);
  fit.chi2_dip = chi2;
  fit.delta_chi2 = fit.chi2_flat - chi2;

  const bool finite = std::isfinite(fit.f0) && std::isfinite(fit.amplitude) && std::isfinite(fit.t0) &&
                      std::isfinite(fit.sigma_rise) && std::isfinite(fit.sigma_fall) && std::isfinite(chi2);
  if (!finite)
    fit.status = DipFitStatus::kInvalidResult;
  else if (status != GSL_SUCCESS)
    fit.status = DipFitStatus::kNotConverged;
  else
    fit.status = DipFitStatus::kOk;
  return fit;
}

}  // namespace lodestar::lightcurve
