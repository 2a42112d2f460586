#include "judges/dummy_judge.h"

#include "core/sha256.h"
#include "judges/registry.h"

namespace assay::judges {
using nlohmann::json;

json DummyJudge::parameters(const Rubric& rubric) const {
  return {{"rubric", rubric.name}};
}

std::string DummyJudge::reply_for(const ChatRequest& request, const std::string& model) {
  const Rubric& rubric = *request.rubric;
  Sha256 h;
  h.update(request.messages.dump());
  std::string digest = h.raw_digest();
  // A dummy named "dummy-<something>" (judge.model) is another judge: its own scores, for tests
  // of several judges. Plain "dummy" keeps the scores it always gave.
  if (model != "dummy") {
    Sha256 hm;
    hm.update(digest + model);
    digest = hm.raw_digest();
  }
  // Repeats: about a third of the questions (chosen by the prompt's hash) get an answer that
  // depends on the repeat too, so self-consistency figures are not trivially perfect.
  if (request.repeat > 0 && static_cast<unsigned char>(digest.back()) % 3 == 0) {
    Sha256 hr;
    hr.update(digest + "repeat " + std::to_string(request.repeat));
    digest = hr.raw_digest();
  }
  auto byte = [&](size_t i) { return static_cast<unsigned char>(digest[i % digest.size()]); };
  switch (rubric.kind) {
    case RubricKind::kCriteria: {
      json reply = json::object();
      for (size_t c = 0; c < rubric.criteria.size(); ++c) {
        const Criterion& crit = rubric.criteria[c];
        int score = crit.min + byte(c) % (crit.max - crit.min + 1);
        reply[crit.name] = {{"analysis", kDummyAnalysis}, {"score", score}};
      }
      return reply.dump();
    }
    case RubricKind::kRating: {
      const Criterion& crit = rubric.criteria.front();
      int score = crit.min + byte(0) % (crit.max - crit.min + 1);
      return std::string(kDummyAnalysis) + ". Rating: [[" + std::to_string(score) + "]]";
    }
    case RubricKind::kPairwise: {
      const char verdicts[] = {'A', 'B', 'C'};
      return std::string(kDummyAnalysis) + ". [[" + verdicts[byte(0) % 3] + "]]";
    }
  }
  return {};
}

void DummyJudge::complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    ChatReply r;
    r.ok = true;
    r.attempts = 1;
    r.content = reply_for(requests[i], model_);
    if (!on_done(i, std::move(r))) break;
  }
}

ProviderEntry dummy_provider() {
  return {"dummy", "offline, deterministic scores from a hash of the prompt",
          [](const JudgeSettings&) {},  // nothing to check: no endpoint, no key
          [](const JudgeSettings& s, const ProviderDeps&) -> std::unique_ptr<ChatProvider> {
            return std::make_unique<DummyJudge>(s.model.starts_with("dummy") ? s.model : "dummy");
          }};
}

}  // namespace assay::judges
