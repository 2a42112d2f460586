// Fuzzes the tokenisers and metrics of scoring/ (13a/BLEU, chrF/chrF++, TER, ROUGE with and
// without the stemmer, SQuAD normalisation, JSON/word checks) on arbitrary bytes: the input is
// split at its first NUL into prediction and reference. Checks that every score is defined and
// in range and that the one-pass fast paths (13a tokens, SQuAD normalisation) equal their
// step-by-step references; ASan/UBSan catch memory and UB errors.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "scoring/bleu.h"
#include "scoring/chrf.h"
#include "scoring/rouge.h"
#include "scoring/squad.h"
#include "scoring/ter.h"
#include "scoring/text_metrics.h"

using namespace assay::scoring;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void in_range(double v, double hi) {
  check(!std::isnan(v) && v >= 0.0 && v <= hi + 1e-9);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t cut = all.find('\0');
  std::string_view hyp = cut == std::string_view::npos ? all : all.substr(0, cut);
  std::string_view ref = cut == std::string_view::npos ? all : all.substr(cut + 1);

  // The one-pass fast paths equal their step-by-step references.
  check(tokenize_13a_fast(hyp) == tokenize_13a(hyp));
  check(squad_exact_match(hyp, ref) == (squad_normalize(hyp) == squad_normalize(ref) ? 1.0 : 0.0));
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
