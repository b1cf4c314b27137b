#include "catalog/skymap_fits.hpp"

#include <fitsio.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/healpix_index.hpp"
#include "engine/duckdb_handles.hpp"

namespace fs = std::filesystem;

namespace lodestar {

namespace {

// Beyond order 13 a full-sky map no longer fits HEALPix C++'s 32-bit
// Healpix_Base, which readers of classic maps use.
constexpr int kMaxSkymapOrder = 13;

void check_skymap_order(const std::string& path, int order) {
  if (order < 0 || order > kMaxSkymapOrder)
    throw Error(path + ": skymap order must be within [0, " + std::to_string(kMaxSkymapOrder) + "], got " +
                std::to_string(order));
}

// cfitsio with status codes (HEALPix C++'s fitshandle would do the same
// writes, but it throws from its destructor when a write has failed — a
// full disk — which aborts the process). Every call is a no-op once status
// is set, so a failure is reported once, at the end, naming the path.
class FitsWriter {
 public:
  explicit FitsWriter(const std::string& path) : path_(path) { fits_create_file(&f_, path.c_str(), &status_); }
  FitsWriter(const FitsWriter&) = delete;
  FitsWriter& operator=(const FitsWriter&) = delete;
  ~FitsWriter() {
    if (f_) {
      int ignored = 0;
      fits_close_file(f_, &ignored);
    }
  }
  void table(int64_t rows, const std::vector<std::pair<std::string, std::string>>& columns) {
    std::vector<char*> names, forms;
    for (const auto& [name, form] : columns) {
      names.push_back(const_cast<char*>(name.c_str()));
      forms.push_back(const_cast<char*>(form.c_str()));
    }
    // The first table of an empty file gets the empty primary HDU before it.
    fits_create_tbl(f_, BINARY_TBL, static_cast<LONGLONG>(rows), static_cast<int>(columns.size()), names.data(), forms.data(),
                    nullptr, "xtension", &status_);
  }
  // Writes n values of column `col` starting at element `offset` of the
  // column (rows hold `repeat` elements each).
  void column(int col, const int64_t* values, int64_t n, int64_t offset, int64_t repeat = 1) {
    if (n == 0) return;
    fits_write_col(f_, TLONGLONG, col, static_cast<LONGLONG>(offset / repeat + 1), static_cast<LONGLONG>(offset % repeat + 1),
                   static_cast<LONGLONG>(n), const_cast<int64_t*>(values), &status_);
  }
  void key(const char* name, const std::string& value, const char* comment) {
    fits_update_key(f_, TSTRING, name, const_cast<char*>(value.c_str()), comment, &status_);
  }
  void key(const char* name, int64_t value, const char* comment) {
    LONGLONG v = value;
    fits_update_key(f_, TLONGLONG, name, &v, comment, &status_);
  }
  // Closes the file; throws Error with cfitsio's message on any failure.
  void finish() {
    fits_close_file(f_, &status_);
    f_ = nullptr;
    if (status_ != 0) {
      char text[FLEN_STATUS] = {0};
      fits_get_errstatus(status_, text);
      fits_clear_errmsg();
      throw Error(path_ + ": cannot write the skymap: " + text + " (cfitsio status " + std::to_string(status_) + ")");
    }
  }

 private:
  std::string path_;
  fitsfile* f_ = nullptr;
  int status_ = 0;
};

void common_keys(FitsWriter& out, int order) {
  out.key("PIXTYPE", "HEALPIX", "HEALPIX pixelisation");
  out.key("ORDERING", "NESTED", "Pixel ordering scheme, either RING or NESTED");
  out.key("COORDSYS", "C", "Ecliptic, Galactic or Celestial (equatorial)");
  out.key("NSIDE", int64_t{1} << order, "Resolution parameter of HEALPIX");
}

// Values are written in slices of this many, so that writing a map needs no
// full-sky array and no copy of the histogram (up to 12·4^10 pixels).
constexpr int64_t kSlice = 1 << 20;

// The classic HEALPix map (as HEALPix C++ and healpy write it): one int64
// `VALUE` per pixel in rows of 1024 elements, IMPLICIT indexing. `nonempty`:
// sorted, distinct pixels; the others are 0.
void write_implicit(FitsWriter& out, int order, const std::vector<PixelCount>& nonempty) {
  const int64_t npix = healpix_npix(order);
  const int64_t repeat = npix >= 1024 ? 1024 : 1;
  out.table(npix / repeat, {{"VALUE", std::to_string(repeat) + "K"}});
  std::vector<int64_t> slice;
  size_t next = 0;
  for (int64_t begin = 0; begin < npix; begin += kSlice) {
    const int64_t n = std::min(kSlice, npix - begin);
    slice.assign(static_cast<size_t>(n), 0);
    for (; next < nonempty.size() && nonempty[next].pixel < begin + n; ++next)
      slice[static_cast<size_t>(nonempty[next].pixel - begin)] = nonempty[next].count;
    out.column(1, slice.data(), n, begin, repeat);
  }
  common_keys(out, order);
  out.key("FIRSTPIX", int64_t{0}, "First pixel # (0 based)");
  out.key("LASTPIX", npix - 1, "Last pixel # (0 based)");
  out.key("INDXSCHM", "IMPLICIT", "Indexing: IMPLICIT or EXPLICIT");
  out.key("OBJECT", "FULLSKY", "Sky coverage, either FULLSKY or PARTIAL");
}

// Only the non-empty pixels: `PIXEL`, `VALUE` rows, EXPLICIT indexing.
void write_explicit(FitsWriter& out, int order, const std::vector<PixelCount>& nonempty) {
  const auto rows = static_cast<int64_t>(nonempty.size());
  out.table(rows, {{"PIXEL", "1K"}, {"VALUE", "1K"}});
  std::vector<int64_t> pixels, values;
  for (int64_t begin = 0; begin < rows; begin += kSlice) {
    const int64_t n = std::min(kSlice, rows - begin);
    pixels.resize(static_cast<size_t>(n));
    values.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      pixels[static_cast<size_t>(i)] = nonempty[static_cast<size_t>(begin + i)].pixel;
      values[static_cast<size_t>(i)] = nonempty[static_cast<size_t>(begin + i)].count;
    }
    out.column(1, pixels.data(), n, begin);
    out.column(2, values.data(), n, begin);
  }
  common_keys(out, order);
  out.key("INDXSCHM", "EXPLICIT", "Indexing: IMPLICIT or EXPLICIT");
  out.key("OBS_NPIX", rows, "Number of non-empty pixels stored");
  out.key("OBJECT", "PARTIAL", "Sky coverage, either FULLSKY or PARTIAL");
}

// Writes under a temporary name and renames, so a reader never sees half a
// map; `body` adds the table HDU.
template <typename Body>
void write_fits(const std::string& path, Body&& body) {
  const std::string tmp = path + ".tmp";
  std::error_code ignored;
  fs::remove(tmp, ignored);
  try {
    FitsWriter out(tmp);
    body(out);
    out.key("CREATOR", "lodestar", "Software creating the FITS file");
    out.finish();
  } catch (...) {
    fs::remove(tmp, ignored);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ignored);
    throw Error(path + ": cannot write the skymap: " + ec.message());
  }
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
  std::vector<PixelCount> nonempty;
  for (size_t p = 0; p < counts.size(); ++p) {
    if (counts[p] < 0) throw Error(path + ": skymap counts must not be negative (pixel " + std::to_string(p) + ")");
    if (counts[p] != 0) nonempty.push_back({static_cast<int64_t>(p), counts[p]});
  }
  write_skymap_fits(path, order, nonempty);
}

void write_skymap_fits(const std::string& path, int order, const std::vector<PixelCount>& nonempty) {
  check_skymap_order(path, order);
  const int64_t npix = healpix_npix(order);
  for (size_t i = 0; i < nonempty.size(); ++i) {
    const PixelCount& pc = nonempty[i];
    if (pc.pixel < 0 || pc.pixel >= npix || pc.count <= 0 || (i > 0 && pc.pixel <= nonempty[i - 1].pixel))
      throw Error(path + ": skymap pixels must be distinct, sorted pixels of order " + std::to_string(order) +
                  " with counts > 0");
  }
  // hats' rule: EXPLICIT when more than half of the pixels are empty.
  if (2 * static_cast<int64_t>(nonempty.size()) < npix)
    write_fits(path, [&](FitsWriter& out) { write_explicit(out, order, nonempty); });
  else
    write_fits(path, [&](FitsWriter& out) { write_implicit(out, order, nonempty); });
}

}  // namespace lodestar
