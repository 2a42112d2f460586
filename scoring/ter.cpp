#include "scoring/ter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/utf8.h"
#include "scoring/text.h"

namespace assay::scoring {
namespace {

// sacrebleu lib_ter limits.
constexpr int kMaxShiftSize = 10;
constexpr int kMaxShiftDist = 50;
constexpr int kBeamWidth = 25;
constexpr int kMaxShiftCandidates = 1000;
constexpr std::int64_t kInf = 10000000000000000LL;  // int(1e16)

enum Op : char { kNop = ' ', kSub = 's', kIns = 'i', kDel = 'd', kUndef = 'x' };

// Beam edit distance of hypotheses of one fixed length against one reference. Row i of the
// matrix covers the columns [lo_[i], hi_[i]); cells outside are (kInf, kUndef), as in sacrebleu.
class BeamEditDistance {
 public:
  BeamEditDistance(std::span<const std::uint32_t> ref, size_t n_hyp) : ref_(ref), n_hyp_(n_hyp) {
    const auto n_ref = static_cast<std::int64_t>(ref.size());
    double ratio = n_hyp > 0 ? static_cast<double>(n_ref) / static_cast<double>(n_hyp) : 1.0;
    std::int64_t beam = kBeamWidth;
    if (kBeamWidth < ratio / 2) beam = static_cast<std::int64_t>(std::ceil(ratio / 2 + kBeamWidth));
    lo_.assign(n_hyp + 1, 0);
    hi_.assign(n_hyp + 1, n_ref + 1);
    off_.assign(n_hyp + 2, 0);
    for (size_t i = 1; i <= n_hyp; ++i) {
      auto diag = static_cast<std::int64_t>(std::floor(static_cast<double>(i) * ratio));
      lo_[i] = std::max<std::int64_t>(0, diag - beam);
      hi_[i] = std::min<std::int64_t>(n_ref + 1, diag + beam);
      if (i == n_hyp) hi_[i] = n_ref + 1;
      hi_[i] = std::max(hi_[i], lo_[i]);
    }
    for (size_t i = 0; i <= n_hyp; ++i) off_[i + 1] = off_[i] + (hi_[i] - lo_[i]);
    cost_.resize(static_cast<size_t>(off_[n_hyp + 1]));
    ops_.resize(cost_.size());
    for (std::int64_t j = 0; j <= n_ref; ++j) {
      cost_[static_cast<size_t>(j)] = j;
      ops_[static_cast<size_t>(j)] = kIns;
    }
    size_t widest = 0;
    for (size_t i = 0; i <= n_hyp; ++i)
      widest = std::max<size_t>(widest, static_cast<size_t>(hi_[i] - lo_[i]));
    prev_.resize(widest);
    cur_.resize(widest);
  }

  // Fills every row of the stored matrix for `words`; returns the distance and the trace.
  std::int64_t full(std::span<const std::uint32_t> words, std::string& trace) {
    for (size_t i = 1; i <= n_hyp_; ++i) {
      row(words[i - 1], i, &cost_[off_[i - 1]], &cost_[off_[i]], &ops_[off_[i]]);
    }
    trace.clear();
    auto i = static_cast<std::int64_t>(n_hyp_);
    auto j = static_cast<std::int64_t>(ref_.size());
    while (i > 0 || j > 0) {
      char op =
          (j >= lo_[i] && j < hi_[i]) ? ops_[off_[i] + (j - lo_[i])] : static_cast<char>(kUndef);
      ASSAY_CHECK(op != kUndef);
      trace.push_back(op);
      if (op == kSub || op == kNop) {
        --i;
        --j;
      } else if (op == kIns) {
        --j;
      } else {
        --i;
      }
    }
    std::reverse(trace.begin(), trace.end());
    return cost_[off_[n_hyp_] + (static_cast<std::int64_t>(ref_.size()) - lo_[n_hyp_])];
  }

  // Distance for `words`, whose first `same_prefix` words equal those of the last full() call:
  // rows up to same_prefix are reused from the stored matrix.
  std::int64_t score(std::span<const std::uint32_t> words, size_t same_prefix) {
    if (same_prefix >= n_hyp_)
      return cost_[off_[n_hyp_] + (static_cast<std::int64_t>(ref_.size()) - lo_[n_hyp_])];
    const std::int64_t* prev = &cost_[off_[same_prefix]];
    for (size_t i = same_prefix + 1; i <= n_hyp_; ++i) {
      row(words[i - 1], i, prev, cur_.data(), nullptr);
      std::swap(prev_, cur_);
      prev = prev_.data();
    }
    return prev[static_cast<std::int64_t>(ref_.size()) - lo_[n_hyp_]];
  }

 private:
  // Row i from row i-1 (`prev`, over its band) with sacrebleu's preference order on ties:
  // no-op/substitution, then deletion, then insertion; strictly smaller costs win.
  void row(std::uint32_t word, size_t i, const std::int64_t* prev, std::int64_t* cur, char* ops) {
    const std::int64_t plo = lo_[i - 1], phi = hi_[i - 1], lo = lo_[i], hi = hi_[i];
    auto prev_at = [&](std::int64_t j) { return (j >= plo && j < phi) ? prev[j - plo] : kInf; };
    for (std::int64_t j = lo; j < hi; ++j) {
      std::int64_t c = kInf;
      char op = kUndef;
      if (j == 0) {
        c = prev_at(0) + 1;
        op = kDel;
      } else {
        bool same = word == ref_[static_cast<size_t>(j - 1)];
        std::int64_t v = prev_at(j - 1) + (same ? 0 : 1);
        if (c > v) {
          c = v;
          op = same ? kNop : kSub;
        }
        v = prev_at(j) + 1;
        if (c > v) {
          c = v;
          op = kDel;
        }
        v = (j - 1 >= lo ? cur[j - 1 - lo] : kInf) + 1;
        if (c > v) {
          c = v;
          op = kIns;
        }
      }
      cur[j - lo] = c;
      if (ops) ops[j - lo] = op;
    }
  }

  std::span<const std::uint32_t> ref_;
  size_t n_hyp_;
  std::vector<std::int64_t> lo_, hi_, off_;
  std::vector<std::int64_t> cost_;
  std::vector<char> ops_;
  std::vector<std::int64_t> prev_, cur_;
};

void perform_shift(std::span<const std::uint32_t> w, size_t start, size_t length, size_t target,
                   std::vector<std::uint32_t>& out) {
  out.clear();
  const size_t n = w.size();
  auto add = [&](size_t b, size_t e) {
    e = std::min(e, n);
    if (b < e) out.insert(out.end(), w.begin() + b, w.begin() + e);
  };
  if (target < start) {
    add(0, target);
    add(start, start + length);
    add(target, start);
    add(start + length, n);
  } else if (target > start + length) {
    add(0, start);
    add(start + length, target);
    add(start, start + length);
    add(target, n);
  } else {
    add(0, start);
    add(start + length, length + target);
    add(start, start + length);
    add(length + target, n);
  }
}

struct Scratch {
  std::string hyp_lower, ref_lower;
  std::vector<std::string_view> hyp_words, ref_words;
  std::vector<std::uint32_t> hyp_ids, ref_ids;
  Interner interner;
};

}  // namespace

std::int64_t ter_edits(std::span<const std::uint32_t> hyp, std::span<const std::uint32_t> ref) {
  const size_t n_h = hyp.size(), n_r = ref.size();
  if (n_r == 0) return static_cast<std::int64_t>(n_h);
  BeamEditDistance ed(ref, n_h);
  std::vector<std::uint32_t> words(hyp.begin(), hyp.end()), shifted, best_words;
  std::vector<std::int64_t> align(n_r);
  std::vector<int> hyp_err, ref_err;
  std::string trace;
  std::int64_t shifts = 0;
  int checked = 0;
  while (true) {
    const std::int64_t pre_score = ed.full(words, trace);
    // Alignment from the flipped trace (sacrebleu trace_to_alignment).
    hyp_err.clear();
    ref_err.clear();
    std::int64_t pos_hyp = -1, pos_ref = -1;
    for (char op : trace) {
      if (op == kNop || op == kSub) {
        ++pos_hyp;
        ++pos_ref;
        align[static_cast<size_t>(pos_ref)] = pos_hyp;
        hyp_err.push_back(op == kSub);
        ref_err.push_back(op == kSub);
      } else if (op == kDel) {  // flipped: an insertion
        ++pos_hyp;
        hyp_err.push_back(1);
      } else {  // kIns flipped: a deletion
        ++pos_ref;
        align[static_cast<size_t>(pos_ref)] = pos_hyp;
        ref_err.push_back(1);
      }
    }
    bool have_best = false;
    std::int64_t best_score = 0, best_len = 0, best_neg_start = 0, best_neg_idx = 0;
    bool stop = false;
    for (size_t start_h = 0; start_h < n_h && !stop; ++start_h) {
      // sacrebleu walks every start_r and skips |start_r - start_h| > kMaxShiftDist; walking
      // only the window visits the same pairs in the same order.
      const size_t r_begin =
          start_h > static_cast<size_t>(kMaxShiftDist) ? start_h - kMaxShiftDist : 0;
      const size_t r_end = std::min(n_r, start_h + kMaxShiftDist + 1);
      for (size_t start_r = r_begin; start_r < r_end && !stop; ++start_r) {
        size_t length = 0;
        while (words[start_h + length] == ref[start_r + length] && length < kMaxShiftSize) {
          ++length;
          // The candidate (start_h, start_r, length).
          bool consider = true;
          int herr = 0, rerr = 0;
          for (size_t k = 0; k < length; ++k) herr += hyp_err[start_h + k];
          for (size_t k = 0; k < length; ++k) rerr += ref_err[start_r + k];
          if (herr == 0 || rerr == 0) consider = false;
          std::int64_t a = align[start_r];
          if (consider && static_cast<std::int64_t>(start_h) <= a &&
              a < static_cast<std::int64_t>(start_h + length)) {
            consider = false;
          }
          if (consider) {
            std::int64_t prev_idx = -1;
            for (std::int64_t offset = -1; offset < static_cast<std::int64_t>(length); ++offset) {
              std::int64_t r = static_cast<std::int64_t>(start_r) + offset;
              std::int64_t idx;
              if (r == -1) {
                idx = 0;
              } else if (r >= 0 && r < static_cast<std::int64_t>(n_r)) {
                idx = align[static_cast<size_t>(r)] + 1;
              } else {
                break;
              }
              if (idx == prev_idx) continue;
              prev_idx = idx;
              perform_shift(words, start_h, length, static_cast<size_t>(idx), shifted);
              size_t same_prefix = std::min<size_t>(start_h, static_cast<size_t>(idx));
              std::int64_t cand_score = pre_score - ed.score(shifted, same_prefix);
              ++checked;
              auto cand_neg_start = -static_cast<std::int64_t>(start_h);
              bool better = !have_best || cand_score > best_score ||
                            (cand_score == best_score &&
                             (static_cast<std::int64_t>(length) > best_len ||
                              (static_cast<std::int64_t>(length) == best_len &&
                               (cand_neg_start > best_neg_start ||
                                (cand_neg_start == best_neg_start && -idx > best_neg_idx)))));
              if (better) {
                have_best = true;
                best_score = cand_score;
                best_len = static_cast<std::int64_t>(length);
                best_neg_start = cand_neg_start;
                best_neg_idx = -idx;
                best_words = shifted;
              }
            }
            if (checked >= kMaxShiftCandidates) stop = true;
          }
          if (stop || n_h == start_h + length || n_r == start_r + length) break;
        }
      }
    }
    if (checked >= kMaxShiftCandidates || !have_best || best_score <= 0) {
      return shifts + pre_score;
    }
    ++shifts;
    words.swap(best_words);
  }
}

TerStats& TerStats::operator+=(const TerStats& o) {
  num_edits += o.num_edits;
  ref_length += o.ref_length;
  return *this;
}

TerStats ter_stats(std::string_view hypothesis, std::string_view reference) {
  thread_local Scratch s;
  s.hyp_lower = utf8::py_lower(hypothesis);
  s.ref_lower = utf8::py_lower(reference);
  s.hyp_words.clear();
  s.ref_words.clear();
  py_split(s.hyp_lower, s.hyp_words);
  py_split(s.ref_lower, s.ref_words);
  TerStats st;
  st.ref_length = static_cast<double>(s.ref_words.size());
  if (static_cast<std::int64_t>(s.hyp_words.size()) > kTerMaxWords ||
      static_cast<std::int64_t>(s.ref_words.size()) > kTerMaxWords) {
    st.num_edits = std::numeric_limits<double>::quiet_NaN();
    return st;
  }
  s.interner.clear();
  s.hyp_ids.clear();
  s.ref_ids.clear();
  for (auto w : s.ref_words) s.ref_ids.push_back(s.interner.id(w));
  for (auto w : s.hyp_words) s.hyp_ids.push_back(s.interner.id(w));
  st.num_edits = static_cast<double>(ter_edits(s.hyp_ids, s.ref_ids));
  return st;
}

double ter_score(const TerStats& stats) {
  if (std::isnan(stats.num_edits)) return stats.num_edits;
  double score;
  if (stats.ref_length > 0) {
    score = stats.num_edits / stats.ref_length;
  } else if (stats.num_edits > 0) {
    score = 1.0;
  } else {
    score = 0.0;
  }
  return 100 * score;
}

double sentence_ter(std::string_view hypothesis, std::string_view reference) {
  return ter_score(ter_stats(hypothesis, reference));
}

}  // namespace assay::scoring
