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
  const double* e;
  size_t n;
  double t_center, t_half;       // t0 is bounded to t_center +- t_half
  double log_s_mid, log_s_half;  // log sigma is bounded to log_s_mid +- log_s_half
  bool tied;                     // one width for both sides (4 parameters)
  double cauchy;                 // > 0: robust residuals (see DipFitOptions); then GSL gets no weights
};

// Robust residual phi(r) = sign(r) sqrt(c^2 log(1 + (r/c)^2)) and d phi / d r.
inline double robust(double r, double c, double* dphi) {
  const double u = r / c;
  const double rho = c * c * std::log1p(u * u);
  const double phi = std::copysign(std::sqrt(rho), r);
  *dphi = phi == 0.0 ? 1.0 : (r / (1.0 + u * u)) / phi;
  return phi;
}

// Internal parameters u = (F0, logit A, atanh((t0 - c) / h), atanh((log sigma_rise - m) / k), same for
// sigma_fall): the depth stays within (0, 1), t0 within the fit window and the widths within
// [kMinWidthDays, 2 x the window's time span] (a width running off to 0 or infinity is a degenerate fit, not a
// dip), without a constrained optimizer.
struct Physical {
  double f0, a, t0, sr, sf;
  double da, dt0, dsr, dsf;  // d(physical)/d(internal) for A and t0; d(log sigma)/d(internal) for the widths
};

constexpr double kMinWidthDays = kMinDipWidthDays;

double bounded_log_width(double v, const Data& d, double* dlog) {
  const double th = std::tanh(v);
  *dlog = d.log_s_half * (1.0 - th * th);
  return std::exp(d.log_s_mid + d.log_s_half * th);
}

double internal_width(double sigma, const Data& d) {
  const double u = (std::log(sigma) - d.log_s_mid) / d.log_s_half;
  return std::atanh(std::clamp(u, -0.999, 0.999));
}

Physical to_physical(const gsl_vector* x, const Data& d) {
  Physical p;
  p.f0 = gsl_vector_get(x, 0);
  p.a = 1.0 / (1.0 + std::exp(-gsl_vector_get(x, 1)));
  const double th = std::tanh(gsl_vector_get(x, 2));
  p.t0 = d.t_center + d.t_half * th;
  p.sr = bounded_log_width(gsl_vector_get(x, 3), d, &p.dsr);
  if (d.tied)
    p.sf = p.sr, p.dsf = p.dsr;
  else
    p.sf = bounded_log_width(gsl_vector_get(x, 4), d, &p.dsf);
  p.da = p.a * (1.0 - p.a);
  p.dt0 = d.t_half * (1.0 - th * th);
  return p;
}

// Residual = model - y (GSL applies the weights).
int residuals(const gsl_vector* x, void* params, gsl_vector* f) {
  const auto* d = static_cast<const Data*>(params);
  const Physical p = to_physical(x, *d);
  for (size_t i = 0; i < d->n; ++i) {
    const double r = asymmetric_gaussian_dip(d->t[i], p.f0, p.a, p.t0, p.sr, p.sf) - d->y[i];
    double unused;
    gsl_vector_set(f, i, d->cauchy > 0 ? robust(r / d->e[i], d->cauchy, &unused) : r);
  }
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
    double k = 1.0;  // chain rule factor of the robust residual
    if (d->cauchy > 0) {
      const double r = (p.f0 * (1.0 - p.a * g) - d->y[i]) / d->e[i];
      robust(r, d->cauchy, &k);
      k /= d->e[i];
    }
    gsl_matrix_set(J, i, 0, k * (1.0 - p.a * g));
    gsl_matrix_set(J, i, 1, -k * p.f0 * g * p.da);
    gsl_matrix_set(J, i, 2, -k * p.f0 * p.a * g * dt / (s * s) * p.dt0);
    const double dlogs = -k * p.f0 * p.a * g * dt * dt / (s * s);
    if (d->tied) {
      gsl_matrix_set(J, i, 3, dlogs * p.dsr);
      continue;
    }
    gsl_matrix_set(J, i, 3, rise ? dlogs * p.dsr : 0.0);
    gsl_matrix_set(J, i, 4, rise ? 0.0 : dlogs * p.dsf);
  }
  return GSL_SUCCESS;
}

struct WorkspaceDeleter {
  void operator()(gsl_multifit_nlinear_workspace* w) const { gsl_multifit_nlinear_free(w); }
};
struct MatrixDeleter {
  void operator()(gsl_matrix* m) const { gsl_matrix_free(m); }
};

// GSL_ENOPROG means no trial step reduced the cost; at a minimum (a fit started there, e.g. when an unobserved
// width was just tied to the other) that is convergence. Accepted when the gradient vanishes, with GSL's own
// scaling of the gtol test (gsl_multifit_nlinear_test): max_i |g_i| max(|x_i|, 1) / max(cost, 1) <= 1e-6.
bool at_stationary_point(gsl_multifit_nlinear_workspace* w) {
  const gsl_matrix* J = gsl_multifit_nlinear_jac(w);
  const gsl_vector* f = gsl_multifit_nlinear_residual(w);
  const gsl_vector* x = gsl_multifit_nlinear_position(w);
  double cost = 0.0;
  gsl_blas_ddot(f, f, &cost);
  cost *= 0.5;
  double g[kDipFitParameters];
  gsl_vector_view gv = gsl_vector_view_array(g, x->size);
  gsl_blas_dgemv(CblasTrans, 1.0, J, f, 0.0, &gv.vector);
  double worst = 0.0;
  for (size_t i = 0; i < x->size; ++i) worst = std::max(worst, std::fabs(g[i]) * std::max(std::fabs(gsl_vector_get(x, i)), 1.0));
  return worst <= 1e-6 * std::max(cost, 1.0);
}

}  // namespace

DipFit fit_asymmetric_gaussian_dip(const double* time, const double* flux, const double* flux_err, size_t n,
                                   const DipFitGuess& guess, const DipFitOptions& options) {
  const bool tie_widths = options.tie_widths;
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
  const double log_lo = std::log(kMinWidthDays), log_hi = std::log(std::max(2.0 * (t_hi - t_lo), 10.0 * kMinWidthDays));
  Data data{time,
            flux,
            flux_err,
            n,
            0.5 * (t_lo + t_hi),
            std::max(0.5 * (t_hi - t_lo), 1e-6),
            0.5 * (log_lo + log_hi),
            0.5 * (log_hi - log_lo),
            tie_widths,
            options.cauchy_scale};
  const size_t n_par = tie_widths ? kDipFitParameters - 1 : kDipFitParameters;
  gsl_multifit_nlinear_fdf fdf{};
  fdf.f = residuals;
  fdf.df = jacobian;
  fdf.fvv = nullptr;
  fdf.n = n;
  fdf.p = n_par;
  fdf.params = &data;

  std::vector<double> weights(n);
  for (size_t i = 0; i < n; ++i) weights[i] = 1.0 / (flux_err[i] * flux_err[i]);
  const double a0 = std::clamp(guess.amplitude, 1e-3, 0.999);
  const double u0 = std::clamp((guess.t0 - data.t_center) / data.t_half, -0.999, 0.999);
  // Tied widths start from the geometric mean of the two.
  const double rise0 = tie_widths ? std::sqrt(guess.sigma_rise * guess.sigma_fall) : guess.sigma_rise;
  double x0[kDipFitParameters] = {guess.f0, std::log(a0 / (1.0 - a0)), std::atanh(u0), internal_width(rise0, data),
                                  internal_width(guess.sigma_fall, data)};
  gsl_vector_view x = gsl_vector_view_array(x0, n_par);
  gsl_vector_view wts = gsl_vector_view_array(weights.data(), n);

  gsl_multifit_nlinear_parameters settings = gsl_multifit_nlinear_default_parameters();
  settings.solver = gsl_multifit_nlinear_solver_cholesky;
  std::unique_ptr<gsl_multifit_nlinear_workspace, WorkspaceDeleter> w(
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &settings, n, n_par));
  if (!w) {
    fit.status = DipFitStatus::kInvalidResult;
    return fit;
  }
  if (options.cauchy_scale > 0)
    gsl_multifit_nlinear_init(&x.vector, &fdf, w.get());  // the robust residuals are already normalized
  else
    gsl_multifit_nlinear_winit(&x.vector, &wts.vector, &fdf, w.get());
  int info = 0;
  const int status = gsl_multifit_nlinear_driver(static_cast<size_t>(options.max_iterations), 1e-10, 1e-10, 1e-10, nullptr,
                                                 nullptr, &info, w.get());
  fit.iterations = static_cast<int>(gsl_multifit_nlinear_niter(w.get()));

  const gsl_vector* best = gsl_multifit_nlinear_position(w.get());
  double chi2 = 0.0;
  {
    const Physical q = to_physical(best, data);
    for (size_t i = 0; i < n; ++i)
      chi2 += std::pow((asymmetric_gaussian_dip(time[i], q.f0, q.a, q.t0, q.sr, q.sf) - flux[i]) / flux_err[i], 2);
  }
  std::unique_ptr<gsl_matrix, MatrixDeleter> covar(gsl_matrix_alloc(n_par, n_par));
  gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w.get()), 0.0, covar.get());
  const double dof = static_cast<double>(n) - static_cast<double>(n_par);
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
  fit.sigma_rise_err = p.sr * p.dsr * err(3);
  fit.sigma_fall_err = tie_widths ? fit.sigma_rise_err : p.sf * p.dsf * err(4);
  fit.widths_tied = tie_widths;
  fit.chi2_dip = chi2;
  fit.delta_chi2 = fit.chi2_flat - chi2;

  // The driver reports "no progress" as GSL_ENOPROG, or on the first iteration as GSL_EMAXITER with info = GSL_ENOPROG.
  const bool no_progress = status == GSL_ENOPROG || (status == GSL_EMAXITER && info == GSL_ENOPROG);
  const bool finite = std::isfinite(fit.f0) && std::isfinite(fit.amplitude) && std::isfinite(fit.t0) &&
                      std::isfinite(fit.sigma_rise) && std::isfinite(fit.sigma_fall) && std::isfinite(chi2);
  if (!finite)
    fit.status = DipFitStatus::kInvalidResult;
  else if (status != GSL_SUCCESS && !(no_progress && at_stationary_point(w.get())))
    fit.status = DipFitStatus::kNotConverged;
  else
    fit.status = DipFitStatus::kOk;
  return fit;
}

}  // namespace lodestar::lightcurve
