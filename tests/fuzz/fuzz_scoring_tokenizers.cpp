// Fuzzes the tokenisers and metrics of scoring/ (13a/BLEU, chrF/chrF++, TER, ROUGE with and
// without the stemmer, SQuAD normalisation, JSON/word checks) on arbitrary bytes: the input is
// split at its first NUL into prediction and reference. Checks that every score is defined and
// in range and that the one-pass fast paths (13a tokens, SQuAD normalisation) equal their
// step-by-step references (also SQuAD F1 and chrF++ word matches); ASan/UBSan catch memory and
// UB errors.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu.h"
#include "scoring/bleu.h"
#include "scoring/chrf.h"
#include "scoring/rouge.h"
#include "scoring/squad.h"
#include "scoring/ter.h"
#include "scoring/text.h"
#include "scoring/text_metrics.h"
#include "testing/cpu_level.h"

using namespace assay::scoring;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void in_range(double v, double hi) {
  check(!std::isnan(v) && v >= 0.0 && v <= hi + 1e-9);
}

// SQuAD F1 step by step: the multiset overlap of squad_tokens (squad_normalize, then split).
double squad_f1_reference(std::string_view hyp, std::string_view ref) {
  std::vector<std::string> p = squad_tokens(hyp), r = squad_tokens(ref);
  std::map<std::string, int> count;
  for (const auto& t : p) ++count[t];
  long same = 0;
  for (const auto& t : r) {
    auto it = count.find(t);
    if (it != count.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = 1.0 * same / static_cast<double>(p.size());
  const double recall = 1.0 * same / static_cast<double>(r.size());
  return (2 * precision * recall) / (precision + recall);
}

// chrF++ word unigram matches step by step: sacrebleu's words (str.split(), then one trailing,
// else one leading, ASCII punctuation mark split off words longer than one code point).
std::int64_t chrf_word_unigram_matches(std::string_view hyp, std::string_view ref) {
  auto words = [](std::string_view text) {
    std::string storage;
    std::vector<std::string_view> split;
    py_split(valid_utf8(text, storage), split);
    const std::string_view punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    std::map<std::string, std::int64_t> out;
    for (auto w : split) {
      if (count_code_points(w) == 1) {
        ++out[std::string(w)];
      } else if (punct.find(w.back()) != std::string_view::npos) {
        ++out[std::string(w.substr(0, w.size() - 1))];
        ++out[std::string(w.substr(w.size() - 1))];
      } else if (punct.find(w.front()) != std::string_view::npos) {
        ++out[std::string(w.substr(0, 1))];
        ++out[std::string(w.substr(1))];
      } else {
        ++out[std::string(w)];
      }
    }
    return out;
  };
  auto h = words(hyp), r = words(ref);
  std::int64_t match = 0;
  for (const auto& [w, c] : h) {
    auto it = r.find(w);
    if (it != r.end()) match += std::min(c, it->second);
  }
  return match;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t cut = all.find('\0');
  std::string_view hyp = cut == std::string_view::npos ? all : all.substr(0, cut);
  std::string_view ref = cut == std::string_view::npos ? all : all.substr(cut + 1);

  // The one-pass fast paths equal their step-by-step references.
  check(tokenize_13a_fast(hyp) == tokenize_13a(hyp));
  // SQuAD at every instruction-set level the CPU has (the portable scan on any CPU).
  for (assay::cpu::Level level : {assay::cpu::Level::avx512, assay::cpu::Level::scalar}) {
    assay::testing::ScopedCpuLevel cap(level);
    check(squad_exact_match(hyp, ref) ==
          (squad_normalize(hyp) == squad_normalize(ref) ? 1.0 : 0.0));
    check(squad_token_prf(hyp, ref).f1 == squad_f1_reference(hyp, ref));
  }
  check(chrf_stats(hyp, ref, 2).values[3 * kChrfCharOrder + 2] ==
        chrf_word_unigram_matches(hyp, ref));
  BleuScore bleu = sentence_bleu(hyp, ref);
  in_range(bleu.score, 100.0 + 1e-6);
  check(bleu.sys_len >= 0 && bleu.counts[0] <= bleu.totals[0]);
  in_range(sentence_chrf(hyp, ref, 0), 100.0);
  in_range(sentence_chrf(hyp, ref, 2), 100.0);
  TerStats ter = ter_stats(hyp, ref);
  check(!std::isnan(ter.num_edits) && ter.num_edits >= 0);
  for (bool stem : {false, true}) {
    (void)rouge_tokenize(hyp, stem);
    RougeScores r = rouge_scores(hyp, ref, stem);
    for (const RougePrf* p : {&r.rouge1, &r.rouge2, &r.rougeL, &r.rougeLsum}) {
      in_range(p->precision, 1.0);
      in_range(p->recall, 1.0);
      in_range(p->fmeasure, 1.0);
    }
    check(r.rougeL.fmeasure >= 0);
  }
  (void)squad_normalize(hyp);
  check(squad_exact_match(hyp, hyp) == 1.0);
  in_range(squad_token_prf(hyp, ref).f1, 1.0);
  (void)valid_json(hyp);
  (void)answer_words(hyp);
  // Identical inputs score perfectly wherever the metric has something to compare.
  if (ter_stats(hyp, hyp).num_edits != 0) std::abort();
  return 0;
}
