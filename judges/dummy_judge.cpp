#include "judges/dummy_judge.h"

#include "core/sha256.h"
#include "judges/registry.h"

namespace assay::judges {
using nlohmann::json;

json DummyJudge::parameters(const Rubric& rubric) const {
  return {{"rubric", rubric.name}};
}

std::string DummyJudge::reply_for(const ChatRequest& request) {
  const Rubric& rubric = *request.rubric;
  Sha256 h;
  h.update(request.messages.dump());
  const std::string digest = h.raw_digest();
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
    r.content = reply_for(requests[i]);
    if (!on_done(i, std::move(r))) break;
  }
}

ProviderEntry dummy_provider() {
  return {"dummy", "offline, deterministic scores from a hash of the prompt",
          [](const JudgeSettings&) {},  // nothing to check: no endpoint, no key
          [](const JudgeSettings&, const ProviderDeps&) -> std::unique_ptr<ChatProvider> {
            return std::make_unique<DummyJudge>();
          }};
}

}  // namespace assay::judges
