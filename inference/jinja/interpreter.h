// Renders a parsed template: statements, expressions, scopes (a for loop or macro body has its
// own; if does not), loop variables, macros and call blocks. Builtin filters, tests, methods and
// globals live in builtins.{h,cpp}.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "inference/jinja/ast.h"
#include "inference/jinja/value.h"

namespace assay::inference::jinja {

// Guards against hostile templates; each exceeded limit is a TemplateError.
struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // any string built, the rendering included
  int max_call_depth = 200;                    // nested macro calls
  int64_t max_steps = 5'000'000;               // expressions evaluated plus loop iterations
};

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
  const Value* lookup(const std::string& name) const;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
 public:
  Interpreter(const Body& root, RenderLimits limits) : root_(root), limits_(limits) {}
  // Renders with `globals` (builtins and the caller's variables) in the outermost scope.
  // Throws TemplateError.
  std::string render(std::unordered_map<std::string, Value> globals);

  // Calls a callable value (used by filters such as map/select that apply other callables).
  Value call(const Value& fn, Args& args);
  // Counts one step against the budget.
  void step();
  // Throws unless `n` more bytes keep a string within the output limit.
  void check_size(size_t n) const;

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Flow exec_body(const Body& body, const FramePtr& frame, std::string& out);
  Flow exec(const Node& node, const FramePtr& frame, std::string& out);
  Flow exec_node(const Node& node, const FramePtr& frame, std::string& out);
  Flow exec_if(const Node& node, const FramePtr& frame, std::string& out);
  Flow exec_for(const Node& node, const FramePtr& frame, std::string& out);
  void exec_set(const Node& node, const FramePtr& frame);
  void exec_call_block(const Node& node, const FramePtr& frame, std::string& out);
  // Binds a macro's or caller's parameters: positional arguments, else defaults, else undefined.
  void bind_params(const Node& node, const FramePtr& frame, const Args& args);
  Value make_macro(const Node& node, const FramePtr& closure, std::string name);
  Value call_macro(const Node& node, const FramePtr& closure, Args& args, const std::string& name);
  void append(std::string& out, const std::string& text) const;

  Value eval(const Expr& e, const FramePtr& frame);
  Value eval_binary(const Expr& e, const FramePtr& frame);
  Value eval_call(const Expr& e, const FramePtr& frame, Value* caller = nullptr);
  Args eval_args(const Expr& e, const FramePtr& frame, size_t first);

  const Body& root_;
  RenderLimits limits_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

// Binds loop targets: one name takes the item; several unpack a list item of that length.
void bind_targets(Frame& frame, const std::vector<std::string>& targets, const Value& item);

}  // namespace assay::inference::jinja
