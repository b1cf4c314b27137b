#include "core/sky_angles.hpp"

#include <cmath>
#include <sstream>

namespace lodestar {

std::optional<std::string> check_position(double ra_deg, double dec_deg) {
  if (!std::isfinite(ra_deg)) {
    std::ostringstream msg;
    msg << "right ascension must be a finite number of degrees, got " << ra_deg;
    return msg.str();
  }
  if (!std::isfinite(dec_deg) || dec_deg < -90.0 || dec_deg > 90.0) {
    std::ostringstream msg;
    msg << "declination must be within [-90, 90] degrees, got " << dec_deg;
    return msg.str();
  }
  return std::nullopt;
}

double angular_separation_deg(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg) {
  const double d1 = dec1_deg * kDegToRad;
  const double d2 = dec2_deg * kDegToRad;
  const double dra = (ra2_deg - ra1_deg) * kDegToRad;
  const double s1 = std::sin(d1), c1 = std::cos(d1);
  const double s2 = std::sin(d2), c2 = std::cos(d2);
  const double sdra = std::sin(dra), cdra = std::cos(dra);
  const double x = c2 * sdra;
  const double y = c1 * s2 - s1 * c2 * cdra;
  const double numerator = std::hypot(x, y);
  const double denominator = s1 * s2 + c1 * c2 * cdra;
  return std::atan2(numerator, denominator) * kRadToDeg;
}

UnitVector unit_vector(double ra_deg, double dec_deg) {
  const double ra = ra_deg * kDegToRad;
  const double dec = dec_deg * kDegToRad;
  const double cd = std::cos(dec);
  return {cd * std::cos(ra), cd * std::sin(ra), std::sin(dec)};
}

double chord2_for_radius_deg(double radius_deg) {
  const double half = 0.5 * radius_deg * kDegToRad;
  const double chord = 2.0 * std::sin(half);
  return chord * chord;
}

double separation_deg_from_chord2(double c2) {
  const double half_chord = 0.5 * std::sqrt(c2);
  return 2.0 * std::asin(std::min(1.0, half_chord)) * kRadToDeg;
}

}  // namespace lodestar
