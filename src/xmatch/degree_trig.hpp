// Sine and cosine of angles in degrees, written so that a loop over arrays
// vectorizes (no libm call, no branch): the crossmatch kernel needs the unit
// vectors of millions of rows per call, and glibc's scalar sin/cos were a
// fifth of its time.
//
// Reduction is exact: x is split as x = 90 n + r with n an integer and
// |r| <= 45 (x - 90 n is exact by Sterbenz's lemma once x is wrapped into
// [0, 360)), so only r is converted to radians (one rounding). sin and cos of
// r on [-pi/4, pi/4] are the minimax polynomials of fdlibm's __kernel_sin and
// __kernel_cos (error below one ulp there); the quadrant n mod 4 then picks
// (+-sin, +-cos). tests/cpp/test_xmatch_kernel.cpp checks the result against
// long-double sinl/cosl to 2 ulp over the whole circle.
#pragma once

#include <cmath>
#include <cstddef>

#include "core/sky_angles.hpp"

namespace lodestar {

// Nearest integer (ties to even) of |v| < 2^51 as a double, without a libm
// call: adding and removing 1.5 * 2^52 rounds away the fraction.
inline double round_to_integer(double v) {
  constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  return (v + kMagic) - kMagic;
}

// x in degrees, |x| <= 1e6 (callers wrap RA into [0, 360) first for exactness).
inline void sincos_deg(double x, double& s, double& c) {
  constexpr double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03, S3 = -1.98412698298579493134e-04,
                   S4 = 2.75573137070700676789e-06, S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
  constexpr double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03, C3 = 2.48015872894767294178e-05,
                   C4 = -2.75573143513906633035e-07, C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
  const double n = round_to_integer(x * (1.0 / 90.0));
  const double r = (x - n * 90.0) * kDegToRad;
  const double z = r * r;
  const double sp = r + r * z * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)))));
  const double cp = 1.0 - 0.5 * z + z * z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  // q = n mod 4 in {0, 1, 2, 3}: floor(n / 4) of an integer n is round(n / 4 - 0.375).
  const double q = n - 4.0 * round_to_integer(n * 0.25 - 0.375);
  const bool odd = q == 1.0 || q == 3.0;
  const double a = odd ? cp : sp, b = odd ? sp : cp;
  s = q >= 2.0 ? -a : a;
  c = (q == 1.0 || q == 2.0) ? -b : b;
}

// Wraps a finite RA into [0, 360); the identity (no fmod) in the common case.
inline double wrap_ra_360(double ra) {
  if (ra >= 0.0 && ra < 360.0) return ra;
  double r = std::fmod(ra, 360.0);
  if (r < 0.0) r += 360.0;
  if (r >= 360.0) r = 0.0;
  return r;
}

// Unit vectors of n positions (degrees; RA already wrapped into [0, 360)).
inline void unit_vectors_deg(const double* ra_wrapped, const double* dec, size_t n, double* x, double* y, double* z) {
  for (size_t i = 0; i < n; ++i) {
    double sa, ca, sd, cd;
    sincos_deg(ra_wrapped[i], sa, ca);
    sincos_deg(dec[i], sd, cd);
    x[i] = cd * ca, y[i] = cd * sa, z[i] = sd;
  }
}

}  // namespace lodestar
