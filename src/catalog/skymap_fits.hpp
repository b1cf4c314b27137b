// `skymap.fits`: the HATS count map of a catalog — rows per HEALPix NESTED
// pixel at one order (`hats_skymap_order`), as hats / hats-import write it: a
// FITS binary table with an int64 `VALUE` column and the HEALPix keywords,
// written with cfitsio. Like hats, a map that is mostly empty is stored
// EXPLICIT (`PIXEL`, `VALUE` of the non-empty pixels) and a mostly full one
// IMPLICIT (one value per pixel: the classic HEALPix map, readable by
// HEALPix C++'s read_Healpix_map_from_fits); healpy, hats and cdshealpix read
// both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/partition_plan.hpp"

namespace lodestar {

// Order of the skymap a catalog with partitions down to `highest_order` gets:
// the histogram order hats-import uses, capped at 10 so that a full-sky
// implicit map stays ~100 MB at most.
int skymap_order_for(int highest_order);

// The non-empty pixels at `order` (sorted by pixel) of a histogram of
// non-empty pixels at the finer (or equal) `histogram_order`.
std::vector<PixelCount> coarsen_histogram(const std::vector<PixelCount>& histogram, int histogram_order, int order);

// Writes the HATS skymap of `order` at `path`, replacing a file already there;
// throws Error naming the path. `counts`: 12·4^order values, none negative.
void write_skymap_fits(const std::string& path, int order, const std::vector<int64_t>& counts);
// The same from the non-empty pixels only (sorted, distinct, counts > 0): no
// full-sky array is built when the map is stored EXPLICIT.
void write_skymap_fits(const std::string& path, int order, const std::vector<PixelCount>& nonempty);

}  // namespace lodestar
