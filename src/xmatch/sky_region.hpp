// Sky regions (search shapes): a cone, a lon/lat box and a convex polygon.
//
// Every search is two stages (design example 1): `coverage` turns the region
// into HEALPix pixel ranges (metadata only, inclusive: it may over-cover but
// never misses a pixel that holds a contained point), then `contains` filters
// rows exactly. Shapes are validated once, at construction, and throw
// lodestar::Error naming what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/healpix_index.hpp"
#include "core/sky_angles.hpp"

namespace lodestar {

class SkyRegion {
 public:
  virtual ~SkyRegion() = default;
  // NESTED pixel ranges at `order` (0..29) that hold every contained point.
  virtual std::vector<PixelRange> coverage(int order) const = 0;
  // out[i] = 1 when (ra[i], dec[i]) lies in the (closed) region, else 0.
  // Positions must be valid (see check_position); RA may be any finite value.
  virtual void contains(const double* ra, const double* dec, size_t n, uint8_t* out) const = 0;
  virtual std::string describe() const = 0;
};

// All points within radius_deg (0 < r <= 180) of the centre, boundary included.
class Cone final : public SkyRegion {
 public:
  Cone(double ra_deg, double dec_deg, double radius_deg);
  std::vector<PixelRange> coverage(int order) const override;
  void contains(const double* ra, const double* dec, size_t n, uint8_t* out) const override;
  std::string describe() const override;

 private:
  double ra_, dec_, radius_;
  UnitVector centre_;
  double chord2_max_;
};

// Points with RA between two meridians and Dec between two parallels (closed).
// RA runs east from ra_lo to ra_hi, through 0/360 when ra_lo > ra_hi; a span of
// exactly 360 degrees (e.g. 0..360) is the full circle. The poles belong to a
// box whose Dec range reaches them, whatever its RA range.
class Box final : public SkyRegion {
 public:
  Box(double ra_lo, double ra_hi, double dec_lo, double dec_hi);
  std::vector<PixelRange> coverage(int order) const override;
  void contains(const double* ra, const double* dec, size_t n, uint8_t* out) const override;
  std::string describe() const override;

 private:
  double ra_lo_, ra_hi_;  // wrapped into [0, 360)
  double dec_lo_, dec_hi_;
  bool full_ra_;
};

// A convex spherical polygon with great-circle edges, vertices (ra, dec) in
// degrees in either orientation, boundary included.
class Polygon final : public SkyRegion {
 public:
  explicit Polygon(std::vector<std::pair<double, double>> vertices);
  std::vector<PixelRange> coverage(int order) const override;
  void contains(const double* ra, const double* dec, size_t n, uint8_t* out) const override;
  std::string describe() const override;

 private:
  std::vector<std::pair<double, double>> vertices_;  // counter-clockwise (interior on the left)
  std::vector<UnitVector> normals_;                  // unit inward normals of the edges
};

// Builds a region from a kind ("cone", "box", "polygon") and flat parameters:
// cone [ra, dec, radius], box [ra_lo, ra_hi, dec_lo, dec_hi], polygon
// [ra1, dec1, ra2, dec2, ...]. Used by the Python binding and SQL functions.
std::unique_ptr<SkyRegion> make_region(const std::string& kind, const std::vector<double>& params);

// Inclusive coverage at `at_order` of every point within radius_deg (>= 0) of
// any point of pixel (order, pixel): used to fetch right-side rows near a
// partition when no margin cache is available.
std::vector<PixelRange> pixel_neighbourhood(int order, int64_t pixel, double radius_deg, int at_order);

// RA wrapped into [0, 360).
double wrap_ra_deg(double ra_deg);

}  // namespace lodestar
