// HEALPix pixel ranges handed to Python: an (n, 2) int64 array of [begin, end).
#pragma once

#include <pybind11/numpy.h>

#include <vector>

#include "core/healpix_index.hpp"

namespace lodestar::python {

inline pybind11::array_t<int64_t> ranges_to_numpy(const std::vector<PixelRange>& ranges) {
  pybind11::array_t<int64_t> out({static_cast<pybind11::ssize_t>(ranges.size()), pybind11::ssize_t{2}});
  auto o = out.mutable_unchecked<2>();
  for (size_t i = 0; i < ranges.size(); ++i) o(i, 0) = ranges[i].begin, o(i, 1) = ranges[i].end;
  return out;
}

}  // namespace lodestar::python
