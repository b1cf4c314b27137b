#include "catalog/skymap_fits.hpp"

#include <arr.h>
#include <error_handling.h>
#include <fitshandle.h>
#include <healpix_base.h>
#include <healpix_map_fitsio.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/healpix_index.hpp"
#include "engine/duckdb_handles.hpp"

namespace fs = std::filesystem;

namespace lodestar {

namespace {

// HEALPix C++'s 32-bit Healpix_Base, which its map writer takes, reaches order 13.
constexpr int kMaxSkymapOrder = 13;

void check_skymap_order(const std::string& path, int order) {
  if (order < 0 || order > kMaxSkymapOrder)
    throw Error(path + ": skymap order must be within [0, " + std::to_string(kMaxSkymapOrder) + "], got " +
                std::to_string(order));
}

void write_implicit(fitshandle& out, int order, const std::vector<int64_t>& counts) {
  // The HEALPix-standard map header (PIXTYPE, ORDERING, NSIDE, FIRSTPIX,
  // LASTPIX, INDXSCHM=IMPLICIT) and one int64 column, named as hats names it.
  arr<std::string> column(1);
  column[0] = "VALUE";
  prepare_Healpix_fitsmap(out, Healpix_Base(order, NEST), PLANCK_INT64, column);
  out.write_column_raw(1, counts.data(), static_cast<int64>(counts.size()));
  out.set_key("OBJECT", std::string("FULLSKY"), "Sky coverage, either FULLSKY or PARTIAL");
}

void write_explicit(fitshandle& out, int order, const std::vector<int64_t>& pixels, const std::vector<int64_t>& values) {
  std::vector<fitscolumn> cols;
  cols.emplace_back("PIXEL", "", 1, PLANCK_INT64);
  cols.emplace_back("VALUE", "", 1, PLANCK_INT64);
  out.insert_bintab(cols);
  if (!pixels.empty()) {
    out.write_column_raw(1, pixels.data(), static_cast<int64>(pixels.size()));
    out.write_column_raw(2, values.data(), static_cast<int64>(values.size()));
  }
  out.set_key("PIXTYPE", std::string("HEALPIX"), "HEALPIX pixelisation");
  out.set_key("ORDERING", std::string("NESTED"), "Pixel ordering scheme, either RING or NESTED");
  out.set_key("NSIDE", int64{1} << order, "Resolution parameter of HEALPIX");
  out.set_key("INDXSCHM", std::string("EXPLICIT"), "Indexing: IMPLICIT or EXPLICIT");
  out.set_key("OBS_NPIX", static_cast<int64>(pixels.size()), "Number of non-empty pixels stored");
  out.set_key("OBJECT", std::string("PARTIAL"), "Sky coverage, either FULLSKY or PARTIAL");
}

// Writes under a temporary name and renames, so a reader never sees half a
// map. `body` adds the table HDU.
template <typename Body>
void write_fits(const std::string& path, Body&& body) {
  const std::string tmp = path + ".tmp";
  std::error_code ignored;
  fs::remove(tmp, ignored);
  try {
    fitshandle out;
    out.create(tmp);
    body(out);
    out.set_key("COORDSYS", std::string("C"), "Ecliptic, Galactic or Celestial (equatorial)");
    out.set_key("CREATOR", std::string("lodestar (HEALPix C++)"), "Software creating the FITS file");
    out.close();
  } catch (const PlanckError& e) {
    fs::remove(tmp, ignored);
    throw Error(path + ": cannot write the skymap: " + e.what());
  }
  fs::rename(tmp, path);
}

}  // namespace

int skymap_order_for(int highest_order) { return std::clamp(highest_order, 0, 10); }

std::vector<PixelCount> coarsen_histogram(const std::vector<PixelCount>& histogram, int histogram_order, int order) {
  if (check_order(histogram_order) || order < 0 || order > histogram_order)
    throw Error("skymap order " + std::to_string(order) + " must be within [0, histogram order " +
                std::to_string(histogram_order) + "]");
  const int shift = 2 * (histogram_order - order);
  std::vector<PixelCount> out;
  for (const auto& pc : histogram) {
    if (pc.count <= 0) continue;
    if (pc.pixel < 0 || pc.pixel >= healpix_npix(histogram_order))
      throw Error("pixel " + std::to_string(pc.pixel) + " is not a pixel of order " + std::to_string(histogram_order));
    const int64_t parent = pc.pixel >> shift;
    if (!out.empty() && out.back().pixel == parent)
      out.back().count += pc.count;
    else
      out.push_back({parent, pc.count});
  }
  std::sort(out.begin(), out.end(), [](const PixelCount& a, const PixelCount& b) { return a.pixel < b.pixel; });
  // Merge equal pixels an unsorted input may have left apart.
  std::vector<PixelCount> merged;
  for (const auto& pc : out) {
    if (!merged.empty() && merged.back().pixel == pc.pixel)
      merged.back().count += pc.count;
    else
      merged.push_back(pc);
  }
  return merged;
}

void write_skymap_fits(const std::string& path, int order, const std::vector<int64_t>& counts) {
  check_skymap_order(path, order);
  if (static_cast<int64_t>(counts.size()) != healpix_npix(order))
    throw Error(path + ": a skymap of order " + std::to_string(order) + " needs " + std::to_string(healpix_npix(order)) +
                " counts, got " + std::to_string(counts.size()));
  std::vector<int64_t> pixels, values;
  for (size_t p = 0; p < counts.size(); ++p) {
    if (counts[p] < 0) throw Error(path + ": skymap counts must not be negative (pixel " + std::to_string(p) + ")");
    if (counts[p] == 0) continue;
    pixels.push_back(static_cast<int64_t>(p));
    values.push_back(counts[p]);
  }
  // hats' rule: EXPLICIT when more than half of the pixels are empty.
  if (2 * pixels.size() < counts.size())
    write_fits(path, [&](fitshandle& out) { write_explicit(out, order, pixels, values); });
  else
    write_fits(path, [&](fitshandle& out) { write_implicit(out, order, counts); });
}

void write_skymap_fits(const std::string& path, int order, const std::vector<PixelCount>& nonempty) {
  check_skymap_order(path, order);
  const int64_t npix = healpix_npix(order);
  std::vector<int64_t> pixels, values;
  pixels.reserve(nonempty.size());
  values.reserve(nonempty.size());
  for (const auto& pc : nonempty) {
    if (pc.pixel < 0 || pc.pixel >= npix || pc.count <= 0 || (!pixels.empty() && pc.pixel <= pixels.back()))
      throw Error(path + ": skymap pixels must be distinct, sorted pixels of order " + std::to_string(order) +
                  " with counts > 0");
    pixels.push_back(pc.pixel);
    values.push_back(pc.count);
  }
  if (2 * static_cast<int64_t>(pixels.size()) < npix) {
    write_fits(path, [&](fitshandle& out) { write_explicit(out, order, pixels, values); });
    return;
  }
  std::vector<int64_t> counts(static_cast<size_t>(npix), 0);
  for (size_t i = 0; i < pixels.size(); ++i) counts[static_cast<size_t>(pixels[i])] = values[i];
  write_fits(path, [&](fitshandle& out) { write_implicit(out, order, counts); });
}

}  // namespace lodestar
