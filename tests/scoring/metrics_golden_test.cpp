// One table-driven test over the metric goldens in tests/data/metrics/ (computed by sacrebleu
// 2.6.0, rouge-score 0.1.2 + NLTK 3.8 and the SQuAD v1.1 script; see the README there): every
// per-pair value and detail, and the corpus values over all pairs and the first 100.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scoring/bleu.h"
#include "scoring/chrf.h"
#include "scoring/rouge.h"
#include "scoring/squad.h"
#include "scoring/ter.h"

namespace assay::scoring {
namespace {

using json = nlohmann::json;

constexpr double kTol100 = 1e-9;  // 0-100 scales
constexpr double kTol1 = 1e-12;   // 0-1 scales

std::string data_dir() {
  return std::string(ASSAY_SOURCE_DIR) + "/tests/data/metrics/";
}

std::vector<json> load_pairs() {
  std::ifstream in(data_dir() + "pairs.jsonl");
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// Collects mismatches so one run shows all of them, not just the first.
struct Checker {
  std::vector<std::string> failures;
  std::string id;
  void near(const std::string& what, double got, double want, double tol) {
    if (!(std::fabs(got - want) <= tol)) {
      std::ostringstream os;
      os.precision(17);
      os << id << " " << what << ": got " << got << " want " << want;
      failures.push_back(os.str());
    }
  }
  void equal(const std::string& what, std::int64_t got, std::int64_t want) {
    if (got != want) {
      failures.push_back(id + " " + what + ": got " + std::to_string(got) + " want " +
                         std::to_string(want));
    }
  }
};

void check_bleu(Checker& c, const std::string& tag, const BleuScore& got, const json& want) {
  c.near(tag + ".score", got.score, want.at("score").get<double>(), kTol100);
  for (int n = 0; n < kBleuOrder; ++n) {
    c.equal(tag + ".counts[" + std::to_string(n) + "]", got.counts[n],
            want.at("counts")[n].get<std::int64_t>());
    c.equal(tag + ".totals[" + std::to_string(n) + "]", got.totals[n],
            want.at("totals")[n].get<std::int64_t>());
    c.near(tag + ".precisions[" + std::to_string(n) + "]", got.precisions[n],
           want.at("precisions")[n].get<double>(), kTol100);
  }
  c.near(tag + ".bp", got.bp, want.at("bp").get<double>(), kTol1);
  c.equal(tag + ".sys_len", got.sys_len, want.at("sys_len").get<std::int64_t>());
  c.equal(tag + ".ref_len", got.ref_len, want.at("ref_len").get<std::int64_t>());
}

void check_rouge(Checker& c, const std::string& tag, const RougePrf& got, const json& want) {
  c.near(tag + ".p", got.precision, want.at("p").get<double>(), kTol1);
  c.near(tag + ".r", got.recall, want.at("r").get<double>(), kTol1);
  c.near(tag + ".f", got.fmeasure, want.at("f").get<double>(), kTol1);
}

std::string report(const std::vector<std::string>& failures) {
  std::string out;
  for (size_t i = 0; i < failures.size() && i < 40; ++i) out += failures[i] + "\n";
  return out;
}

TEST(MetricsGoldenTest, ReproducesEveryPairValue) {
  auto pairs = load_pairs();
  ASSERT_EQ(pairs.size(), 412u) << "tests/data/metrics/pairs.jsonl missing or truncated";
  Checker c;
  for (const auto& p : pairs) {
    c.id = p.at("id").get<std::string>();
    const auto hyp = p.at("prediction").get<std::string>();
    const auto ref = p.at("reference").get<std::string>();
    const json& d = p.at("detail");

    BleuScore bleu = sentence_bleu(hyp, ref);
    c.near("sentence_bleu", bleu.score, p.at("sentence_bleu").get<double>(), kTol100);
    check_bleu(c, "detail.sentence_bleu", bleu, d.at("sentence_bleu"));

    c.near("chrf", sentence_chrf(hyp, ref, 0), p.at("chrf").get<double>(), kTol100);
    c.near("chrf_pp", sentence_chrf(hyp, ref, 2), p.at("chrf_pp").get<double>(), kTol100);

    TerStats ter = ter_stats(hyp, ref);
    c.near("ter", ter_score(ter), p.at("ter").get<double>(), kTol100);
    c.equal("detail.ter_num_edits", static_cast<std::int64_t>(ter.num_edits),
            static_cast<std::int64_t>(d.at("ter_num_edits").get<double>()));
    c.equal("detail.ter_ref_length", static_cast<std::int64_t>(ter.ref_length),
            static_cast<std::int64_t>(d.at("ter_ref_length").get<double>()));

    for (bool stem : {false, true}) {
      const std::string sfx = stem ? "_stem" : "";
      RougeScores r = rouge_scores(hyp, ref, stem);
      c.near("rouge1_f" + sfx, r.rouge1.fmeasure, p.at("rouge1_f" + sfx).get<double>(), kTol1);
      c.near("rouge2_f" + sfx, r.rouge2.fmeasure, p.at("rouge2_f" + sfx).get<double>(), kTol1);
      c.near("rougeL_f" + sfx, r.rougeL.fmeasure, p.at("rougeL_f" + sfx).get<double>(), kTol1);
      c.near("rougeLsum_f" + sfx, r.rougeLsum.fmeasure, p.at("rougeLsum_f" + sfx).get<double>(),
             kTol1);
      check_rouge(c, "detail.rouge1" + sfx, r.rouge1, d.at("rouge1" + sfx));
      check_rouge(c, "detail.rouge2" + sfx, r.rouge2, d.at("rouge2" + sfx));
      check_rouge(c, "detail.rougeL" + sfx, r.rougeL, d.at("rougeL" + sfx));
      check_rouge(c, "detail.rougeLsum" + sfx, r.rougeLsum, d.at("rougeLsum" + sfx));
    }

    c.equal("squad_em", static_cast<std::int64_t>(squad_exact_match(hyp, ref)),
            p.at("squad_em").get<std::int64_t>());
    c.near("squad_f1", squad_token_prf(hyp, ref).f1, p.at("squad_f1").get<double>(), kTol1);
  }
  EXPECT_TRUE(c.failures.empty()) << c.failures.size() << " mismatches, first ones:\n"
                                  << report(c.failures);
}

TEST(MetricsGoldenTest, ReproducesCorpusValues) {
  auto pairs = load_pairs();
  ASSERT_EQ(pairs.size(), 412u);
  std::ifstream in(data_dir() + "corpus.json");
  ASSERT_TRUE(in) << "tests/data/metrics/corpus.json missing";
  json corpus = json::parse(in);
  Checker c;
  for (const char* slice : {"all", "first_100"}) {
    const json& want = corpus.at(slice);
    const auto n = want.at("n_pairs").get<size_t>();
    ASSERT_LE(n, pairs.size());
    ASSERT_EQ(pairs[0].at("id"), want.at("first_id"));
    ASSERT_EQ(pairs[n - 1].at("id"), want.at("last_id"));
    c.id = slice;
    std::vector<std::string> hyps, refs;
    BleuStats bleu;
    ChrfStats chrf, chrf_pp;
    TerStats ter;
    for (size_t i = 0; i < n; ++i) {
      hyps.push_back(pairs[i].at("prediction").get<std::string>());
      refs.push_back(pairs[i].at("reference").get<std::string>());
      chrf += chrf_stats(hyps.back(), refs.back(), 0);
      chrf_pp += chrf_stats(hyps.back(), refs.back(), 2);
      ter += ter_stats(hyps.back(), refs.back());
    }
    check_bleu(c, "bleu", corpus_bleu(hyps, refs), want.at("bleu"));
    c.near("chrf", chrf_score(chrf), want.at("chrf").at("score").get<double>(), kTol100);
    c.near("chrf_pp", chrf_score(chrf_pp), want.at("chrf_pp").at("score").get<double>(), kTol100);
    c.near("ter", ter_score(ter), want.at("ter").at("score").get<double>(), kTol100);
    c.equal("ter.num_edits", static_cast<std::int64_t>(ter.num_edits),
            want.at("ter").at("num_edits").get<std::int64_t>());
    c.equal("ter.ref_length", static_cast<std::int64_t>(ter.ref_length),
            static_cast<std::int64_t>(want.at("ter").at("ref_length").get<double>()));
  }
  EXPECT_TRUE(c.failures.empty()) << c.failures.size() << " mismatches:\n" << report(c.failures);
}

}  // namespace
}  // namespace assay::scoring
