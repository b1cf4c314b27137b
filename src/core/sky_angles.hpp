// Angular geometry on the unit sphere: separations and unit vectors.
//
// Everything here is a pure function of doubles so the same kernels serve the
// SQL functions, the crossmatch and the search code without any I/O.
#pragma once

#include <array>
#include <optional>
#include <string>

namespace lodestar {

inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kDegToRad = kPi / 180.0;
inline constexpr double kRadToDeg = 180.0 / kPi;
inline constexpr double kArcsecToDeg = 1.0 / 3600.0;

using UnitVector = std::array<double, 3>;

// Returns a human-readable reason when (ra, dec) is not a usable position:
// non-finite values, or |dec| > 90. RA may be any finite value (it is periodic).
std::optional<std::string> check_position(double ra_deg, double dec_deg);

// Great-circle separation in degrees, by the Vincenty (atan2) form: accurate
// to ~1e-15 rad for every separation from 0 to 180 degrees, unlike the
// cosine formula which loses all precision below ~1 arcsec.
double angular_separation_deg(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg);

UnitVector unit_vector(double ra_deg, double dec_deg);

// Squared chord length between two unit vectors. For a radius r the test
// chord^2 <= chord2_for_radius(r) is exact and stable at tiny separations.
inline double chord2(const UnitVector& a, const UnitVector& b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return dx * dx + dy * dy + dz * dz;
}

double chord2_for_radius_deg(double radius_deg);

// Inverse of chord2_for_radius_deg: separation in degrees from a squared chord.
double separation_deg_from_chord2(double c2);

}  // namespace lodestar
