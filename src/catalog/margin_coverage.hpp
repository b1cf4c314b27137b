// The margin of a HEALPix pixel P: the pixels outside P, at a finer order,
// that can hold a point within a radius of P — what a margin cache of P must
// copy. Tight: it follows P's boundary instead of covering a disc around P's
// centre (which, for a large pixel, reaches tens of degrees beyond it).
#pragma once

#include <cstdint>
#include <vector>

#include "core/healpix_index.hpp"

namespace lodestar {

// Order-29 ranges [begin, end), sorted and merged, of every NESTED pixel at
// `at_order` (>= order) lying outside `pixel` (at `order`) that may hold a
// point within `radius_deg` of it. Inclusive: never misses such a point; may
// add pixels up to ~2 fine pixel radii farther. Throws Error on bad arguments.
std::vector<PixelRange> margin_coverage29(int order, int64_t pixel, double radius_deg, int at_order);

}  // namespace lodestar
