#include "xmatch/sky_region.hpp"

#include <error_handling.h>
#include <healpix_base.h>
#include <pointing.h>
#include <rangeset.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/duckdb_handles.hpp"

namespace lodestar {
namespace {

using Base = T_Healpix_Base<int64>;

// HEALPix's inclusive queries oversample pixel boundaries by this factor
// (a power of two for NEST): fewer false positives at negligible cost.
constexpr int kInclusiveFact = 4;

// A vertex must stand at least this far (radians) off the great circle of
// every edge it is not on; closer means collinear or coincident vertices.
constexpr double kPolygonDegeneracy = 1e-12;

// Points at most this far (radians) outside an edge's great circle count as
// on the edge: the rounding of a vertex's own unit vector is ~1e-16, so the
// vertices and edges of the polygon are reliably inside the closed polygon.
constexpr double kPolygonEdgeTolerance = 1e-14;

pointing to_pointing(double ra_deg, double dec_deg) { return pointing(kPi / 2.0 - dec_deg * kDegToRad, ra_deg * kDegToRad); }

void require_order(int order) {
  if (auto p = check_order(order)) throw Error(*p);
}

std::vector<PixelRange> to_ranges(const rangeset<int64>& set) {
  std::vector<PixelRange> out;
  out.reserve(set.nranges());
  for (tsize i = 0; i < set.nranges(); ++i) out.push_back({set.ivbegin(i), set.ivend(i)});
  return out;
}

rangeset<int64> disc(const Base& base, const pointing& centre, double radius_rad) {
  rangeset<int64> set;
  if (radius_rad >= kPi) {
    set.add(0, base.Npix());
  } else {
    base.query_disc_inclusive(centre, radius_rad, set, kInclusiveFact);
  }
  return set;
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

UnitVector cross(const UnitVector& a, const UnitVector& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

double dot(const UnitVector& a, const UnitVector& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

void check_vertex(double ra, double dec, const std::string& what) {
  if (auto p = check_position(ra, dec)) throw Error(what + ": " + *p);
}

}  // namespace

double wrap_ra_deg(double ra_deg) {
  double r = std::fmod(ra_deg, 360.0);
  if (r < 0.0) r += 360.0;
  if (r >= 360.0) r = 0.0;  // -tiny + 360 rounds to 360
  return r;
}

// ---------------------------------------------------------------- Cone

Cone::Cone(double ra_deg, double dec_deg, double radius_deg) : ra_(ra_deg), dec_(dec_deg), radius_(radius_deg) {
  check_vertex(ra_deg, dec_deg, "cone centre");
  if (!std::isfinite(radius_deg) || radius_deg <= 0.0 || radius_deg > 180.0)
    throw Error("cone radius must be within (0, 180] degrees, got " + fmt(radius_deg));
  centre_ = unit_vector(ra_deg, dec_deg);
  chord2_max_ = chord2_for_radius_deg(radius_deg);
}

std::vector<PixelRange> Cone::coverage(int order) const {
  require_order(order);
  Base base(order, NEST);
  return to_ranges(disc(base, to_pointing(ra_, dec_), radius_ * kDegToRad));
}

void Cone::contains(const double* ra, const double* dec, size_t n, uint8_t* out) const {
  const bool everything = radius_ >= 180.0;  // the antipode's chord^2 may round above 4
  for (size_t i = 0; i < n; ++i) out[i] = everything || chord2(unit_vector(ra[i], dec[i]), centre_) <= chord2_max_;
}

std::string Cone::describe() const {
  return "Cone(ra=" + fmt(ra_) + ", dec=" + fmt(dec_) + ", radius=" + fmt(radius_) + " deg)";
}

// ---------------------------------------------------------------- Box

Box::Box(double ra_lo, double ra_hi, double dec_lo, double dec_hi) {
  if (!std::isfinite(ra_lo)) throw Error("box ra_lo must be a finite number of degrees, got " + fmt(ra_lo));
  if (!std::isfinite(ra_hi)) throw Error("box ra_hi must be a finite number of degrees, got " + fmt(ra_hi));
  for (auto [v, name] : {std::pair{dec_lo, "dec_lo"}, std::pair{dec_hi, "dec_hi"}})
    if (!std::isfinite(v) || v < -90.0 || v > 90.0)
      throw Error(std::string("box ") + name + " must be within [-90, 90] degrees, got " + fmt(v));
  if (!(dec_lo < dec_hi)) throw Error("box dec_lo must be below dec_hi, got dec_lo=" + fmt(dec_lo) + ", dec_hi=" + fmt(dec_hi));
  dec_lo_ = dec_lo;
  dec_hi_ = dec_hi;
  full_ra_ = std::fabs(ra_hi - ra_lo) == 360.0;
  ra_lo_ = wrap_ra_deg(ra_lo);
  ra_hi_ = wrap_ra_deg(ra_hi);
  if (!full_ra_ && ra_lo_ == ra_hi_)
    throw Error("box RA range is empty: ra_lo=" + fmt(ra_lo) + " and ra_hi=" + fmt(ra_hi) +
                " are the same meridian (use ra_lo=0, ra_hi=360 for the full circle)");
}

std::vector<PixelRange> Box::coverage(int order) const {
  require_order(order);
  Base base(order, NEST);
  // The box is (Dec band) ∩ (RA lune). Each is an intersection of discs:
  // dec >= dec_lo is the cap of radius 90 - dec_lo around the north pole,
  // dec <= dec_hi the cap of radius 90 + dec_hi around the south pole, and a
  // lune at most 180 degrees wide is the intersection of the two hemispheres
  // bounded by its meridians. An inclusive cover of A and one of B intersect
  // into an inclusive cover of A ∩ B (a pixel holding a point of A ∩ B is in
  // both), and unions keep inclusiveness, so the result never misses a pixel.
  rangeset<int64> set;
  set.add(0, base.Npix());
  if (dec_lo_ > -90.0) set = set.op_and(disc(base, pointing(0.0, 0.0), (90.0 - dec_lo_) * kDegToRad));
  if (dec_hi_ < 90.0) set = set.op_and(disc(base, pointing(kPi, 0.0), (90.0 + dec_hi_) * kDegToRad));
  if (!full_ra_) {
    double width = ra_hi_ - ra_lo_;
    if (width < 0.0) width += 360.0;
    const int pieces = width > 180.0 ? 2 : 1;
    const double piece = width / pieces;
    rangeset<int64> lune;
    for (int k = 0; k < pieces; ++k) {
      const double a = ra_lo_ + k * piece, b = a + piece;
      // Hemisphere east of meridian a, and west of meridian b.
      const rangeset<int64> east = disc(base, pointing(kPi / 2.0, (a + 90.0) * kDegToRad), kPi / 2.0);
      const rangeset<int64> west = disc(base, pointing(kPi / 2.0, (b - 90.0) * kDegToRad), kPi / 2.0);
      lune = lune.op_or(east.op_and(west));
    }
    set = set.op_and(lune);
  }
  return to_ranges(set);
}

void Box::contains(const double* ra, const double* dec, size_t n, uint8_t* out) const {
  for (size_t i = 0; i < n; ++i) {
    const double d = dec[i];
    bool in = d >= dec_lo_ && d <= dec_hi_;
    // A pole lies on every meridian: its RA says nothing.
    if (in && !full_ra_ && std::fabs(d) != 90.0) {
      const double r = wrap_ra_deg(ra[i]);
      in = ra_lo_ <= ra_hi_ ? (r >= ra_lo_ && r <= ra_hi_) : (r >= ra_lo_ || r <= ra_hi_);
    }
    out[i] = in;
  }
}

std::string Box::describe() const {
  return "Box(ra=[" + fmt(ra_lo_) + ", " + fmt(full_ra_ ? ra_lo_ + 360.0 : ra_hi_) + "], dec=[" + fmt(dec_lo_) + ", " +
         fmt(dec_hi_) + "] deg)";
}

// ---------------------------------------------------------------- Polygon

Polygon::Polygon(std::vector<std::pair<double, double>> vertices) : vertices_(std::move(vertices)) {
  const size_t n = vertices_.size();
  if (n < 3) throw Error("polygon needs at least 3 vertices, got " + std::to_string(n));
  std::vector<UnitVector> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    check_vertex(vertices_[i].first, vertices_[i].second, "polygon vertex " + std::to_string(i));
    v.push_back(unit_vector(vertices_[i].first, vertices_[i].second));
  }
  normals_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const UnitVector& a = v[i];
    const UnitVector& b = v[(i + 1) % n];
    // (a + b) x (b - a) = 2 a x b, but stays accurate for close vertices.
    const UnitVector s{a[0] + b[0], a[1] + b[1], a[2] + b[2]}, d{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    UnitVector nrm = cross(s, d);
    const double len = std::sqrt(dot(nrm, nrm));
    if (!(len > 2.0 * kPolygonDegeneracy))
      throw Error("polygon is degenerate: vertices " + std::to_string(i) + " and " + std::to_string((i + 1) % n) +
                  " coincide or are antipodal, so they define no edge");
    for (double& c : nrm) c /= len;
    normals_[i] = nrm;
  }
  // Convex (in either orientation) iff every vertex off an edge lies strictly
  // on one and the same side of that edge's great circle.
  int orientation = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (j == i || j == (i + 1) % n) continue;
      const double side = dot(normals_[i], v[j]);
      if (std::fabs(side) <= kPolygonDegeneracy)
        throw Error("polygon is degenerate: vertex " + std::to_string(j) + " lies on the great circle of edge " +
                    std::to_string(i) + "-" + std::to_string((i + 1) % n) + " (repeated or collinear vertices)");
      const int s = side > 0.0 ? 1 : -1;
      if (orientation == 0) orientation = s;
      if (s != orientation)
        throw Error("polygon is not convex: vertex " + std::to_string(j) + " lies on the other side of edge " + std::to_string(i) +
                    "-" + std::to_string((i + 1) % n) + " (vertices must trace a convex outline, edges not crossing)");
    }
  }
  if (orientation < 0) {
    for (auto& nrm : normals_)
      for (double& c : nrm) c = -c;
  }
}

std::vector<PixelRange> Polygon::coverage(int order) const {
  require_order(order);
  Base base(order, NEST);
  std::vector<pointing> points;
  points.reserve(vertices_.size());
  for (const auto& [ra, dec] : vertices_) points.push_back(to_pointing(ra, dec));
  rangeset<int64> set;
  try {
    base.query_polygon_inclusive(points, set, kInclusiveFact);
  } catch (const PlanckError& e) {
    throw Error("polygon coverage failed in HEALPix: " + std::string(e.what()));
  }
  return to_ranges(set);
}

void Polygon::contains(const double* ra, const double* dec, size_t n, uint8_t* out) const {
  for (size_t i = 0; i < n; ++i) {
    const UnitVector p = unit_vector(ra[i], dec[i]);
    bool in = true;
    for (const auto& nrm : normals_) in = in && dot(nrm, p) >= -kPolygonEdgeTolerance;
    out[i] = in;
  }
}

std::string Polygon::describe() const {
  std::string s = "Polygon(";
  for (size_t i = 0; i < vertices_.size(); ++i)
    s += (i ? ", (" : "(") + fmt(vertices_[i].first) + ", " + fmt(vertices_[i].second) + ")";
  return s + " deg)";
}

// ---------------------------------------------------------------- helpers

std::unique_ptr<SkyRegion> make_region(const std::string& kind, const std::vector<double>& params) {
  auto need = [&](size_t count, const char* layout) {
    if (params.size() != count)
      throw Error(kind + " needs " + std::to_string(count) + " parameters " + layout + ", got " + std::to_string(params.size()));
  };
  if (kind == "cone") {
    need(3, "[ra, dec, radius_deg]");
    return std::make_unique<Cone>(params[0], params[1], params[2]);
  }
  if (kind == "box") {
    need(4, "[ra_lo, ra_hi, dec_lo, dec_hi]");
    return std::make_unique<Box>(params[0], params[1], params[2], params[3]);
  }
  if (kind == "polygon") {
    if (params.size() % 2 != 0)
      throw Error("polygon parameters must be flattened pairs [ra1, dec1, ra2, dec2, ...], got an odd count " +
                  std::to_string(params.size()));
    std::vector<std::pair<double, double>> v;
    for (size_t i = 0; i + 1 < params.size(); i += 2) v.emplace_back(params[i], params[i + 1]);
    return std::make_unique<Polygon>(std::move(v));
  }
  throw Error("unknown region kind '" + kind + "' (expected cone, box or polygon)");
}

std::vector<PixelRange> pixel_neighbourhood(int order, int64_t pixel, double radius_deg, int at_order) {
  require_order(order);
  require_order(at_order);
  if (pixel < 0 || pixel >= healpix_npix(order))
    throw Error("pixel " + std::to_string(pixel) + " is not a pixel of order " + std::to_string(order) + " (valid: 0.." +
                std::to_string(healpix_npix(order) - 1) + ")");
  if (!std::isfinite(radius_deg) || radius_deg < 0.0 || radius_deg > 180.0)
    throw Error("neighbourhood radius must be within [0, 180] degrees, got " + fmt(radius_deg));
  const Base source(order, NEST);
  // Every point of the pixel lies within max_pixrad of its centre (HEALPix's
  // own inclusive queries rest on this bound); 1% extra absorbs rounding. So
  // every point within r of the pixel lies in the disc of max_pixrad + r.
  const double reach = source.max_pixrad() * 1.01 + radius_deg * kDegToRad;
  const Base target(at_order, NEST);
  return to_ranges(disc(target, source.pix2ang(pixel), reach));
}

}  // namespace lodestar
