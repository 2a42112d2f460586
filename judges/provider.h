// The interface between the judge runner and a model that answers chat requests. The providers
// (`openai` over HTTP, `dummy` offline, ...) are built by name through judges/registry.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "judges/rubric.h"

namespace assay::judges {

struct ChatRequest {
  nlohmann::json messages;         // [{"role": "system"|"user"|"assistant", "content": "..."}]
  const Rubric* rubric = nullptr;  // parameters (temperature, max_tokens, seed, response_format)
  // Which of judge.repeats asks of the same question this is (0 first). Providers that send a
  // seed get the repeat's own through `rubric`; the dummy varies some answers with it.
  int repeat = 0;
};

struct ChatReply {
  bool ok = false;         // a reply with content arrived
  std::string content;     // the model's message content (when ok)
  std::string error;       // why not (when !ok), without secrets
  std::string error_kind;  // "http", "transport", "envelope", "cancelled" (when !ok)
  bool fatal = false;      // the endpoint refuses every request (401/403/404): stop the stage
  bool resend = false;     // worth sending once more (a 200 with a broken body)
  // The failure may pass (transport, 408/429/5xx, a broken body, cancelled): a rerun asks again.
  // False for a refusal (other 4xx).
  bool transient = false;
  int attempts = 0;  // HTTP attempts made (1 + transport retries)
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// Called on the caller's thread as each request finishes; return false to stop the batch.
using ChatDone = std::function<bool(size_t index, ChatReply&& reply)>;

class ChatProvider {
 public:
  virtual ~ChatProvider() = default;
  virtual std::string name() const = 0;   // "openai", "dummy"
  virtual std::string model() const = 0;  // the judge model id ("dummy" for the dummy)
  // The call parameters that change the reply, as they enter the cache key.
  virtual nlohmann::json parameters(const Rubric& rubric) const = 0;
  // Sends every request; reports each exactly once through `on_done`.
  virtual void complete(const std::vector<ChatRequest>& requests, const ChatDone& on_done) = 0;
  // Cost in USD of the given token counts, or nullopt when the model has no price.
  virtual std::optional<double> cost_usd(std::int64_t prompt_tokens,
                                         std::int64_t completion_tokens) const = 0;
  // HTTP retries made so far (0 for offline providers).
  virtual std::uint64_t transport_retries() const = 0;
  // Called from an `on_done` callback during complete(): send nothing new; requests on the wire
  // finish and are reported as usual, the rest are reported cancelled (attempts 0). Used when the
  // cost cap is reached, so that no reply already paid for is thrown away. Default: nothing.
  virtual void drain() {}
};

}  // namespace assay::judges
