// The `dummy` provider: answers every judge request offline with a well-formed reply whose
// scores come from a hash of the rendered messages, so the same input always gets the same
// score. Used by --dummy runs and JUDGE_PROVIDER=dummy; every analysis says it is a dummy.
// judge.repeats: a third of the questions get repeat-dependent answers. A judge.model starting
// with "dummy" ("dummy-b") names a second dummy judge with scores of its own.
#pragma once

#include "judges/provider.h"

namespace assay::judges {

class DummyJudge final : public ChatProvider {
 public:
  explicit DummyJudge(std::string model = "dummy") : model_(std::move(model)) {}
  std::string name() const override { return "dummy"; }
  std::string model() const override { return model_; }
  nlohmann::json parameters(const Rubric& rubric) const override;
  void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) override;
  std::optional<double> cost_usd(std::int64_t, std::int64_t) const override { return 0.0; }
  std::uint64_t transport_retries() const override { return 0; }

  // The reply the dummy named `model` gives to `request` (exposed for tests).
  static std::string reply_for(const ChatRequest& request, const std::string& model = "dummy");

 private:
  std::string model_;
};

// Text every dummy analysis carries.
inline constexpr const char* kDummyAnalysis =
    "dummy judge: deterministic score from a hash of the prompt; no model was asked";

}  // namespace assay::judges
