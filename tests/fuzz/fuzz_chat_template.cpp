// libFuzzer: the chat-template interpreter. Any input must parse or be refused with a
// SyntaxError; a template that parses must render or throw TemplateError, within small step and
// size limits, without crashing or hanging.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "inference/jinja/builtins.h"
#include "inference/jinja/interpreter.h"
#include "inference/jinja/parser.h"

namespace jinja = assay::inference::jinja;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  jinja::Body body;
  try {
    body = jinja::parse(input);
  } catch (const jinja::SyntaxError& e) {
    if (e.line < 1 || e.col < 1 || e.message.empty()) std::abort();
    return 0;
  }
  std::unordered_map<std::string, jinja::Value> globals;
  jinja::add_builtin_globals(globals, "2026-01-15");
  globals["messages"] = jinja::Value::from_json(nlohmann::ordered_json::parse(
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi \u00e9 <b>"},)"
      R"({"role":"assistant","content":"<think>x</think>ok","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}])"));
  globals["bos_token"] = jinja::Value("<s>");
  globals["add_generation_prompt"] = jinja::Value(true);
  globals["tools"] = jinja::Value::none();
  jinja::RenderLimits limits;
  limits.max_steps = 200'000;
  limits.max_output_bytes = 1 << 20;
  limits.max_call_depth = 50;
  try {
    std::string out = jinja::Interpreter(body, limits).render(std::move(globals));
    if (out.size() > limits.max_output_bytes) std::abort();
  } catch (const jinja::TemplateError&) {
  }
  return 0;
}
