#include "lightcurve/dimming.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/duckdb_handles.hpp"
#include "lightcurve/event_fit.hpp"
#include "lightcurve/features.hpp"

namespace lodestar::lightcurve {

void DimmingParams::check() const {
  auto bad = [](const std::string& what) { throw Error("find_dimming_events: " + what); };
  if (!(std::isfinite(k_sigma) && k_sigma > 0)) bad("k_sigma must be a positive number, got " + std::to_string(k_sigma));
  if (!(std::isfinite(extend_sigma) && extend_sigma > 0 && extend_sigma <= k_sigma))
    bad("extend_sigma must be within (0, k_sigma], got " + std::to_string(extend_sigma));
  if (!(max_run_gap_days > 0)) bad("max_run_gap_days must be > 0, got " + std::to_string(max_run_gap_days));
  if (min_points < 1) bad("min_points must be at least 1, got " + std::to_string(min_points));
  if (!(std::isfinite(min_depth_mag) && min_depth_mag >= 0))
    bad("min_depth_mag must be >= 0, got " + std::to_string(min_depth_mag));
  if (min_baseline_points < 2) bad("min_baseline_points must be at least 2, got " + std::to_string(min_baseline_points));
  if (max_harmonic < 1) bad("max_harmonic must be at least 1, got " + std::to_string(max_harmonic));
  if (!(std::isfinite(fit_padding_factor) && fit_padding_factor >= 0) ||
      !(std::isfinite(min_fit_padding_days) && min_fit_padding_days >= 0))
    bad("fit padding must be >= 0");
}

double score_event(const DimmingEvent& e) {
  if (e.periodic) return 0.0;
  if (e.fit.status == DipFitStatus::kOk && std::isfinite(e.fit.delta_chi2)) return std::sqrt(std::max(e.fit.delta_chi2, 0.0));
  return std::isfinite(e.significance) ? e.significance : 0.0;
}

namespace {

// The searchable detections of one object, time-ordered, on a common scale.
struct Normalized {
  std::vector<double> t, resid, sigma, z;  // resid = mag - band baseline (positive = fainter)
  std::vector<int8_t> band;
  void clear() { t.clear(), resid.clear(), sigma.clear(), z.clear(), band.clear(); }
  size_t size() const { return t.size(); }
};

// Median by selection, O(n) (reorders v): the same value as median_of_sorted of the sorted values.
double median_in_place(std::vector<double>& v) {
  const size_t n = v.size();
  if (n == 0) return NAN;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (n % 2) return *mid;
  return 0.5 * (*std::max_element(v.begin(), mid) + *mid);
}

struct Run {
  size_t first, last;  // inclusive indices into Normalized
};

class ObjectSearch {
 public:
  explicit ObjectSearch(const DimmingParams& p) : p_(p) {}

  void run(const LightCurveColumns& lc, size_t obj, std::vector<DimmingEvent>& out) {
    normalize(lc, obj);
    const size_t first_event = out.size();
    find_runs(obj, out);
    if (out.size() == first_event) return;
    std::span<DimmingEvent> events(out.data() + first_event, out.size() - first_event);
    flag_periodic(events);
    for (size_t k = 0; k < events.size(); ++k) {
      DimmingEvent& e = events[k];
      if (p_.fit) fit_event(e, k);
      e.score = score_event(e);
    }
  }

 private:
  void normalize(const LightCurveColumns& lc, size_t obj) {
    usable_detections_in_time_order(lc, obj, order_);
    double baseline[kNumBands], excess2[kNumBands];
    bool has_baseline[kNumBands];
    for (int b = 0; b < kNumBands; ++b) band_mags_[b].clear(), band_errs_[b].clear();
    for (int64_t j : order_) band_mags_[lc.band[j]].push_back(lc.mag[j]), band_errs_[lc.band[j]].push_back(lc.mag_err[j]);
    for (int b = 0; b < kNumBands; ++b) {
      std::vector<double>& mags = band_mags_[b];
      has_baseline[b] = mags.size() >= static_cast<size_t>(p_.min_baseline_points);
      if (!has_baseline[b]) continue;
      baseline[b] = median_in_place(mags);
      for (auto& m : mags) m = std::fabs(m - baseline[b]);
      const double scatter = 1.4826 * median_in_place(mags);
      const double typical_err = median_in_place(band_errs_[b]);
      // Scatter beyond the quoted errors (intrinsic variability, underestimated errors).
      excess2[b] = std::max(0.0, scatter * scatter - typical_err * typical_err);
    }
    d_.clear();
    for (int64_t j : order_) {
      const int b = lc.band[j];
      if (!has_baseline[b]) continue;
      const double s = std::sqrt(lc.mag_err[j] * lc.mag_err[j] + excess2[b]);
      d_.t.push_back(lc.time[j]);
      d_.resid.push_back(lc.mag[j] - baseline[b]);
      d_.sigma.push_back(s);
      d_.z.push_back((lc.mag[j] - baseline[b]) / s);
      d_.band.push_back(static_cast<int8_t>(b));
    }
  }

  void find_runs(size_t obj, std::vector<DimmingEvent>& out) {
    runs_.clear();
    const size_t n = d_.size();
    int32_t index = 0;
    for (size_t i = 0; i < n;) {
      if (d_.z[i] < p_.extend_sigma) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j + 1 < n && d_.z[j + 1] >= p_.extend_sigma && d_.t[j + 1] - d_.t[j] <= p_.max_run_gap_days) ++j;
      DimmingEvent e;
      e.object_index = static_cast<int64_t>(obj);
      double zsum = 0.0;
      size_t deepest = i;
      for (size_t k = i; k <= j; ++k) {
        zsum += d_.z[k];
        if (d_.z[k] >= p_.k_sigma) ++e.n_faint;
        if (d_.resid[k] > d_.resid[deepest]) deepest = k;
        e.bands_mask |= static_cast<uint8_t>(1u << d_.band[k]);
      }
      e.n_points = static_cast<int32_t>(j - i + 1);
      e.depth_mag = d_.resid[deepest];
      if (e.n_faint >= p_.min_points && e.depth_mag >= p_.min_depth_mag) {
        e.event_index = index++;
        e.start = d_.t[i];
        e.end = d_.t[j];
        e.duration = e.end - e.start;
        e.t_min = d_.t[deepest];
        e.depth_frac = 1.0 - std::pow(10.0, -0.4 * e.depth_mag);
        e.significance = zsum / std::sqrt(static_cast<double>(e.n_points));
        out.push_back(e);
        runs_.push_back({i, j});
      }
      i = j + 1;
    }
  }

  // Periodicity test (documented in docs/lightcurves.md). A reference is a time t_ref at the bottom of a dip
  // with a half-window w: first the most significant event as a whole, then every "night group" of the
  // events (detections of a run less than kGroupGap apart) that holds a detection >= k_sigma, t_ref its
  // deepest detection and w from the group's own span. The groups matter because a run can join an eclipse
  // to a single outlier on another night (consecutive detections, days apart): the run's deepest detection is
  // then the outlier, off the eclipse phase, and its duration (which sets w and the shortest period tried)
  // is that of the gap, not of the eclipse. For each reference, candidate periods are its separations from
  // every other faint "anchor" (other events, isolated faint detections) divided by n = 1..max_harmonic; the
  // object is periodic when a fold at one of them passes fold_passes().
  void flag_periodic(std::span<DimmingEvent> events) {
    refs_.clear();
    size_t deepest = 0;
    for (size_t e = 1; e < events.size(); ++e)
      if (events[e].significance > events[deepest].significance) deepest = e;
    refs_.push_back({events[deepest].t_min, std::max(0.5 * events[deepest].duration, 0.1),
                     std::max(2.0 * events[deepest].duration, 0.2), deepest, 0, false});
    // Night groups, most significant events first, deepest group first within an event.
    by_significance_.resize(events.size());
    for (size_t e = 0; e < events.size(); ++e) by_significance_[e] = e;
    std::stable_sort(by_significance_.begin(), by_significance_.end(),
                     [&](size_t a, size_t b) { return events[a].significance > events[b].significance; });
    constexpr size_t kMaxReferences = 12;  // bounded work per object
    for (size_t e : by_significance_) {
      const Run run = runs_[e];
      const size_t group_refs_begin = refs_.size();
      for (size_t i = run.first; i <= run.last;) {
        size_t j = i, bottom = i;
        while (j < run.last && d_.t[j + 1] - d_.t[j] < kGroupGap) ++j;
        for (size_t k = i; k <= j; ++k)
          if (d_.resid[k] > d_.resid[bottom]) bottom = k;
        const double span = d_.t[j] - d_.t[i];
        const bool is_first_reference = e == deepest && i == run.first && j == run.last;  // a one-group run
        if (d_.z[bottom] >= p_.k_sigma && !is_first_reference)
          refs_.push_back({d_.t[bottom], std::max(0.5 * span, 0.1), std::max(2.0 * span, 0.2), e, bottom, true});
        i = j + 1;
      }
      // Deepest group first: order this event's groups by the depth of their bottom detection.
      std::stable_sort(refs_.begin() + static_cast<std::ptrdiff_t>(group_refs_begin), refs_.end(),
                       [&](const Reference& a, const Reference& b) { return d_.resid[a.bottom] > d_.resid[b.bottom]; });
      if (refs_.size() >= kMaxReferences) break;
    }
    if (refs_.size() > kMaxReferences) refs_.resize(kMaxReferences);
    for (const Reference& r : refs_) {
      const double period = periodic_at(events, r);
      if (std::isfinite(period)) {
        for (auto& e : events) e.periodic = true, e.period = period;
        return;
      }
    }
  }

  struct Reference {
    double t, w, min_period;
    size_t event;                 // the event holding the reference (its run is left out of the fold)
    size_t bottom;                // night groups: index of the group's deepest detection
    bool needs_baseline_between;  // a night group (the stricter route, see periodic_at())
  };

  // An eclipsing binary is at its baseline between eclipses: of the detections within max(P, 5 d) of t_ref
  // farther than 2w from every predicted recurrence, at least 3, fewer than a third faint (z >= extend_sigma).
  // Required of night-group references: without it a group inside a long aperiodic dip "recurs" at short
  // periods onto the same dip's other detections (its tails outside the run).
  bool baseline_between(double tref, double w, double period) const {
    const double reach = std::max(period, 5.0);
    int n_off = 0, n_faint = 0;
    for (auto it = std::lower_bound(d_.t.begin(), d_.t.end(), tref - reach); it != d_.t.end() && *it <= tref + reach; ++it) {
      const double x = *it - tref;
      if (std::fabs(x - period * std::round(x / period)) <= 2 * w) continue;
      ++n_off;
      if (d_.z[static_cast<size_t>(it - d_.t.begin())] >= p_.extend_sigma) ++n_faint;
    }
    return n_off >= 3 && 3 * n_faint < n_off;
  }
  static constexpr double kGroupGap = 0.5;               // days: detections closer than this form one night group
  static constexpr double kGroupWindowPerPeriod = 0.02;  // a night group's fold window is at least this fraction of P

  // The first candidate period for reference r whose fold passes, or NaN. Fold test: among detections outside
  // r's run within +-w of a predicted recurrence t_ref + k P, at least 3, at least 3 of them (and at least half)
  // faint (z >= extend_sigma), the faint ones in at least two different cycles. A night group, tried many times
  // per object, must pass a stricter test: faint means z >= k_sigma, three different cycles, w at least 2% of
  // P, and baseline_between().
  double periodic_at(std::span<DimmingEvent> events, const Reference& r) {
    const Run ref_run = runs_[r.event];
    const double tref = r.t, min_period = r.min_period;
    // Night-group references (a secondary route, tried many times per object) count as faint only
    // detections >= k_sigma: at extend_sigma chance noise excursions complete folds of two-dip stars.
    const double faint_z = r.needs_baseline_between ? p_.k_sigma : p_.extend_sigma;
    anchors_.clear();
    for (size_t e = 0; e < events.size(); ++e)
      if (e != r.event) anchors_.push_back(events[e].t_min);
    for (size_t i = 0; i < d_.size(); ++i)
      if ((i < ref_run.first || i > ref_run.last) && d_.z[i] >= p_.k_sigma) anchors_.push_back(d_.t[i]);
    // Nearest anchors first: the first period that passes is then usually the true one, not a multiple.
    std::sort(anchors_.begin(), anchors_.end(), [&](double a, double b) { return std::fabs(a - tref) < std::fabs(b - tref); });
    anchors_.erase(std::unique(anchors_.begin(), anchors_.end()), anchors_.end());
    if (anchors_.size() > 64) anchors_.resize(64);  // bounded work for very noisy curves

    for (double a : anchors_) {
      const double sep = std::fabs(a - tref);
      for (int h = 1; h <= p_.max_harmonic; ++h) {
        const double period = sep / h;
        if (period < min_period) break;
        // A night group is a snapshot of its eclipse, whose width (and the error of a period measured from
        // one separation) scales with P: its window is at least 2% of P.
        const double w = r.needs_baseline_between ? std::max(r.w, kGroupWindowPerPeriod * period) : r.w;
        int n_in = 0, n_faint = 0;
        cycles_.clear();
        auto visit = [&](size_t i, double cycle) {
          if (i >= ref_run.first && i <= ref_run.last) return;
          const double x = d_.t[i] - tref;
          if (std::round(x / period) != cycle || std::fabs(x - period * cycle) > w) return;
          ++n_in;
          if (d_.z[i] >= faint_z) {
            ++n_faint;
            if (cycles_.size() < 3 && std::find(cycles_.begin(), cycles_.end(), cycle) == cycles_.end()) cycles_.push_back(cycle);
          }
        };
        // Detections near a predicted recurrence tref + k P: by binary search around each recurrence when there
        // are fewer recurrences than detections (long periods), else by one pass over all detections. Both apply
        // the same test to each detection (its nearest cycle k = round((t - tref) / P) within +-w), so they agree.
        const double k_lo = std::floor((d_.t.front() - tref) / period), k_hi = std::ceil((d_.t.back() - tref) / period);
        if (k_hi - k_lo + 1 < 0.25 * static_cast<double>(d_.size())) {
          const double margin = w + 1e-6;
          for (double k = k_lo; k <= k_hi; ++k) {
            const double c = tref + k * period;
            for (auto it = std::lower_bound(d_.t.begin(), d_.t.end(), c - margin); it != d_.t.end() && *it <= c + margin; ++it)
              visit(static_cast<size_t>(it - d_.t.begin()), k);
          }
        } else {
          for (size_t i = 0; i < d_.size(); ++i) visit(i, std::round((d_.t[i] - tref) / period));
        }
        // Faint recurrences in at least two other cycles: two dips alone never make a period.
        // Night-group references (a secondary route) need faint recurrences in three cycles and the baseline
        // between them.
        const size_t min_cycles = r.needs_baseline_between ? 3 : 2;
        if (n_in >= 3 && n_faint >= 3 && 2 * n_faint >= n_in && cycles_.size() >= min_cycles &&
            (!r.needs_baseline_between || baseline_between(tref, w, period)))
          return period;
      }
    }
    return NAN;
  }

  void fit_event(DimmingEvent& e, size_t k) {
    const Run& run = runs_[k];
    // Window: the run padded by max(factor * duration, min padding) on each side, widened when needed so that
    // it holds at least kBaselinePoints detections on each side (the flat level must be constrained).
    constexpr size_t kBaselinePoints = 8;
    const double pad = std::max(p_.fit_padding_factor * e.duration, p_.min_fit_padding_days);
    double lo = std::min(e.start - pad, d_.t[run.first >= kBaselinePoints ? run.first - kBaselinePoints : 0]);
    double hi = std::max(e.end + pad, d_.t[std::min(run.last + kBaselinePoints, d_.size() - 1)]);
    // Another event separated from this one by a stretch of at least kSeparatingPoints detections is another
    // dip: the window stops halfway along that stretch (one dip per fit). Closer runs are left in: they are
    // usually one dip split by a noisy point.
    constexpr size_t kSeparatingPoints = 6;
    if (k > 0 && run.first - runs_[k - 1].last - 1 >= kSeparatingPoints)
      lo = std::max(lo, d_.t[runs_[k - 1].last + (run.first - runs_[k - 1].last) / 2]);
    if (k + 1 < runs_.size() && runs_[k + 1].first - run.last - 1 >= kSeparatingPoints)
      hi = std::min(hi, d_.t[run.last + (runs_[k + 1].first - run.last) / 2]);
    ft_.clear(), ff_.clear(), fe_.clear();
    const double t_before = run.first > 0 ? d_.t[run.first - 1] : e.start - pad;
    const double t_after = run.last + 1 < d_.size() ? d_.t[run.last + 1] : e.end + pad;
    constexpr double kFluxPerMag = 0.4 * 2.302585092994046;  // d flux / d mag (relative), 0.4 ln 10
    for (size_t i = 0; i < d_.size(); ++i) {
      const double t = d_.t[i];
      if (t < lo || t > hi) continue;
      const double f = std::exp(-kFluxPerMag * d_.resid[i]);
      ft_.push_back(t);
      ff_.push_back(f);
      fe_.push_back(f * kFluxPerMag * d_.sigma[i]);
    }
    const DipStarts g =
        dip_start(ft_.data(), ff_.data(), fe_.data(), ft_.size(), e.t_min, e.start, e.end, t_before, t_after, grid_);
    e.fit = fit_dip_clipped(ft_, ff_, fe_, g);
  }

  const DimmingParams& p_;
  Normalized d_;
  std::vector<int64_t> order_;
  std::vector<double> band_mags_[kNumBands], band_errs_[kNumBands];
  std::vector<double> anchors_, ft_, ff_, fe_, cycles_, grid_;
  std::vector<Run> runs_;
  std::vector<Reference> refs_;
  std::vector<size_t> by_significance_;
};

}  // namespace

std::vector<DimmingEvent> find_dimming_events(const LightCurveColumns& lc, const DimmingParams& params) {
  params.check();
  validate(lc);
  std::vector<DimmingEvent> events;
  ObjectSearch search(params);
  for (size_t obj = 0; obj < lc.n_objects(); ++obj) search.run(lc, obj, events);
  return events;
}

}  // namespace lodestar::lightcurve
