#include "inference/jinja/interpreter.h"

#include <cmath>
#include <optional>

#include "inference/jinja/builtins.h"
#include "inference/jinja/py_str.h"

namespace assay::inference::jinja {
namespace {

std::string undefined_message(const Value& v) {
  std::string name = v.undefined_name();
  return name.empty() ? "value is undefined" : "'" + name + "' is undefined";
}

// Integer + - * with Python's result, or a TemplateError where int64 overflows.
Value int_op(char op, int64_t x, int64_t y) {
  int64_t r = 0;
  bool overflow = op == '+'   ? __builtin_add_overflow(x, y, &r)
                  : op == '-' ? __builtin_sub_overflow(x, y, &r)
                              : __builtin_mul_overflow(x, y, &r);
  if (overflow) throw TemplateError("integer overflow");
  return Value(r);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  bool ints = !a.is_float() && !b.is_float();
  int64_t x = a.as_int(), y = b.as_int();
  if (op == "+") return ints ? int_op('+', x, y) : Value(a.as_float() + b.as_float());
  if (op == "-") return ints ? int_op('-', x, y) : Value(a.as_float() - b.as_float());
  if (op == "*") return ints ? int_op('*', x, y) : Value(a.as_float() * b.as_float());
  if (op == "/") {
    if (b.as_float() == 0) throw TemplateError("division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (b.as_float() == 0)
      throw TemplateError(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (ints) {
      if (x == INT64_MIN && y == -1) throw TemplateError("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return op == "//" ? Value(q) : Value(m);
    }
    double fx = a.as_float(), fy = b.as_float();
    double q = std::floor(fx / fy);
    return op == "//" ? Value(q) : Value(fx - q * fy);
  }
  // **
  if (ints && y >= 0) {
    int64_t result = 1;
    for (int64_t i = 0; i < y; ++i) {
      if (__builtin_mul_overflow(result, x, &result)) throw TemplateError("integer overflow");
      if (result == 0 || result == 1) break;
    }
    return Value(result);
  }
  return Value(std::pow(a.as_float(), b.as_float()));
}

Value repeat(const Value& seq, int64_t n, const Interpreter& interp) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    interp.check_size(seq.as_string().size() * static_cast<size_t>(n));
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  interp.check_size(seq.as_list().size() * static_cast<size_t>(n) * sizeof(Value));
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return Value(std::move(out));
}

// Whether `v` is or contains a namespace: one stored in a namespace could make a cycle (a
// namespace holding itself), which would never be freed and would print forever.
bool holds_namespace(const Value& v, int depth) {
  if (v.is_namespace() || depth > 64) return true;
  if (v.is_list()) {
    for (const Value& item : v.as_list()) {
      if (holds_namespace(item, depth + 1)) return true;
    }
  }
  if (v.is_dict()) {
    for (const auto& kv : v.as_dict()) {
      if (holds_namespace(kv.second, depth + 1)) return true;
    }
  }
  return false;
}

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b) {
  throw TemplateError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" +
                      b.type_name() + "'");
}

}  // namespace

const Value* Frame::lookup(const std::string& name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return &it->second;
  }
  return nullptr;
}

void bind_targets(Frame& frame, const std::vector<std::string>& targets, const Value& item) {
  if (targets.size() == 1) {
    frame.vars[targets[0]] = item;
    return;
  }
  List parts = iterate(item);
  if (parts.size() != targets.size()) {
    throw TemplateError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                        std::to_string(targets.size()) + " names");
  }
  for (size_t i = 0; i < targets.size(); ++i) frame.vars[targets[i]] = parts[i];
}

std::string Interpreter::render(std::unordered_map<std::string, Value> globals) {
  auto frame = std::make_shared<Frame>();
  frame->vars = std::move(globals);
  std::string out;
  exec_body(root_, frame, out);
  return out;
}

void Interpreter::step() {
  if (++steps_ > limits_.max_steps) throw TemplateError("template exceeded its step limit");
}

void Interpreter::check_size(size_t n) const {
  if (n > limits_.max_output_bytes) throw TemplateError("template output exceeds the size limit");
}

void Interpreter::append(std::string& out, const std::string& text) const {
  check_size(out.size() + text.size());
  out += text;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& frame,
                                         std::string& out) {
  for (const auto& node : body) {
    Flow flow = exec(*node, frame, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Node& node, const FramePtr& frame, std::string& out) {
  try {
    return exec_node(node, frame, out);
  } catch (const TemplateError& e) {
    // An error of the template's own operations names the innermost statement it happened in;
    // a raise_exception message stays the template's, word for word.
    if (e.raised_by_template() || e.located()) throw;
    throw TemplateError("line " + std::to_string(node.line) + ", column " +
                            std::to_string(node.col) + ": " + e.what(),
                        false, true);
  }
}

Interpreter::Flow Interpreter::exec_node(const Node& node, const FramePtr& frame,
                                         std::string& out) {
  switch (node.kind) {
    case Node::Kind::kText:
      append(out, node.text);
      return Flow::kNormal;
    case Node::Kind::kOutput:
      append(out, eval(*node.expr, frame).str());
      return Flow::kNormal;
    case Node::Kind::kIf:
      return exec_if(node, frame, out);
    case Node::Kind::kFor:
      return exec_for(node, frame, out);
    case Node::Kind::kSet:
      exec_set(node, frame);
      return Flow::kNormal;
    case Node::Kind::kSetBlock: {
      std::string captured;
      exec_body(node.body, frame, captured);
      Value v(std::move(captured));
      if (node.cond) {
        Args args = eval_args(*node.cond, frame, 1);
        args.positional.insert(args.positional.begin(), v);
        v = apply_filter(*this, node.cond->name, args);
      }
      frame->vars[node.targets[0]] = v;
      return Flow::kNormal;
    }
    case Node::Kind::kMacro:
      frame->vars[node.text] = make_macro(node, frame, node.text);
      return Flow::kNormal;
    case Node::Kind::kCallBlock:
      exec_call_block(node, frame, out);
      return Flow::kNormal;
    case Node::Kind::kFilterBlock: {
      std::string captured;
      auto inner = std::make_shared<Frame>();
      inner->parent = frame;
      exec_body(node.body, inner, captured);
      // node.cond is a filter chain whose innermost input is null: evaluate with the text.
      std::vector<const Expr*> chain;
      for (const Expr* f = node.cond.get(); f; f = f->args[0].get()) chain.push_back(f);
      Value v(std::move(captured));
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        Args args = eval_args(**it, frame, 1);
        args.positional.insert(args.positional.begin(), v);
        v = apply_filter(*this, (*it)->name, args);
      }
      append(out, v.str());
      return Flow::kNormal;
    }
    case Node::Kind::kScope: {
      auto inner = std::make_shared<Frame>();
      inner->parent = frame;
      for (const auto& [name, expr] : node.params) inner->vars[name] = eval(*expr, frame);
      return exec_body(node.body, inner, out);
    }
    case Node::Kind::kBreak:
      return Flow::kBreak;
    case Node::Kind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_if(const Node& node, const FramePtr& frame, std::string& out) {
  if (eval(*node.expr, frame).truthy()) return exec_body(node.body, frame, out);
  return exec_body(node.else_body, frame, out);
}

Interpreter::Flow Interpreter::exec_for(const Node& node, const FramePtr& frame, std::string& out) {
  Value iterable = eval(*node.expr, frame);
  List items = iterate(iterable);
  auto inner = std::make_shared<Frame>();
  inner->parent = frame;
  if (node.cond) {
    List kept;
    for (const Value& item : items) {
      step();
      bind_targets(*inner, node.targets, item);
      if (eval(*node.cond, inner).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  auto last_changed = std::make_shared<std::optional<Value>>();  // loop.changed()'s memory
  for (int64_t i = 0; i < n; ++i) {
    step();
    const Value& item = items[static_cast<size_t>(i)];
    bind_targets(*inner, node.targets, item);
    List cycle_args;
    Dict loop = {
        {"index", Value(i + 1)},
        {"index0", Value(i)},
        {"revindex", Value(n - i)},
        {"revindex0", Value(n - i - 1)},
        {"first", Value(i == 0)},
        {"last", Value(i == n - 1)},
        {"length", Value(n)},
        {"depth", Value(1)},
        {"depth0", Value(0)},
        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem")},
        {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem")},
        {"cycle", Value::callable([i](Args& args) {
           if (args.positional.empty())
             throw TemplateError("loop.cycle() needs at least one value");
           return args.positional[static_cast<size_t>(i) % args.positional.size()];
         })},
        {"changed", Value::callable([last_changed](Args& args) {
           Value now(args.positional);
           bool changed = !*last_changed || !equals(**last_changed, now);
           *last_changed = now;
           return Value(changed);
         })},
    };
    inner->vars["loop"] = Value(std::move(loop));
    if (exec_body(node.body, inner, out) == Flow::kBreak) break;
  }
  if (n == 0) return exec_body(node.else_body, frame, out);
  return Flow::kNormal;
}

void Interpreter::exec_set(const Node& node, const FramePtr& frame) {
  Value v = eval(*node.expr, frame);
  if (node.text.empty()) {
    bind_targets(*frame, node.targets, v);
    return;
  }
  const Value* target = frame->lookup(node.targets[0]);
  if (!target || !target->is_namespace()) {
    throw TemplateError("cannot assign attribute on non-namespace object '" + node.targets[0] +
                        "'");
  }
  if (holds_namespace(v, 0)) {
    throw TemplateError("a namespace attribute cannot hold a namespace ('" + node.targets[0] + "." +
                        node.text + "')");
  }
  Dict& attrs = const_cast<Value*>(target)->mutable_namespace();
  for (auto& kv : attrs) {
    if (kv.first == node.text) {
      kv.second = std::move(v);
      return;
    }
  }
  attrs.emplace_back(node.text, std::move(v));
}

// Macros and callers hold their scope weakly: the scope holds them, and a strong reference
// would be a cycle that is never freed.
Value Interpreter::make_macro(const Node& node, const FramePtr& closure, std::string name) {
  std::weak_ptr<Frame> scope = closure;
  return Value::callable([this, &node, scope, name](Args& args) {
    FramePtr frame = scope.lock();
    if (!frame) throw TemplateError("macro '" + name + "' called after its scope ended");
    return call_macro(node, frame, args, name);
  });
}

void Interpreter::bind_params(const Node& node, const FramePtr& frame, const Args& args) {
  for (size_t i = 0; i < node.params.size(); ++i) {
    const auto& [param, def] = node.params[i];
    if (i < args.positional.size())
      frame->vars[param] = args.positional[i];
    else if (def)
      frame->vars[param] = eval(*def, frame);
    else
      frame->vars[param] = Value::undefined(param);
  }
}

Value Interpreter::call_macro(const Node& node, const FramePtr& closure, Args& args,
                              const std::string& name) {
  if (++call_depth_ > limits_.max_call_depth) {
    --call_depth_;
    throw TemplateError("macro calls nested too deeply");
  }
  struct Unwind {
    int& depth;
    ~Unwind() { --depth; }
  } unwind{call_depth_};
  auto frame = std::make_shared<Frame>();
  frame->parent = closure;
  if (args.positional.size() > node.params.size()) {
    throw TemplateError("macro '" + name + "' takes not more than " +
                        std::to_string(node.params.size()) + " argument(s)");
  }
  bind_params(node, frame, args);
  for (auto& [key, value] : args.keyword) {
    bool known = key == "caller";
    for (const auto& p : node.params) known = known || p.first == key;
    if (!known) throw TemplateError("macro '" + name + "' takes no keyword argument '" + key + "'");
    frame->vars[key] = value;
  }
  std::string out;
  exec_body(node.body, frame, out);
  return Value(std::move(out));
}

void Interpreter::exec_call_block(const Node& node, const FramePtr& frame, std::string& out) {
  std::weak_ptr<Frame> scope = frame;
  Value caller = Value::callable([this, &node, scope](Args& args) {
    auto inner = std::make_shared<Frame>();
    inner->parent = scope.lock();
    if (!inner->parent) throw TemplateError("caller() called after its scope ended");
    bind_params(node, inner, args);
    std::string text;
    exec_body(node.body, inner, text);
    return Value(std::move(text));
  });
  append(out, eval_call(*node.expr, frame, &caller).str());
}

Value Interpreter::call(const Value& fn, Args& args) {
  if (fn.is_undefined()) throw TemplateError(undefined_message(fn));
  if (!fn.is_callable()) throw TemplateError("'" + fn.type_name() + "' object is not callable");
  return fn.as_function()(args);
}

Args Interpreter::eval_args(const Expr& e, const FramePtr& frame, size_t first) {
  Args args;
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], frame));
  for (const auto& [key, expr] : e.kwargs) args.keyword.emplace_back(key, eval(*expr, frame));
  return args;
}

Value Interpreter::eval_call(const Expr& e, const FramePtr& frame, Value* caller) {
  Value fn = eval(*e.args[0], frame);
  Args args = eval_args(e, frame, 1);
  if (caller) args.keyword.emplace_back("caller", *caller);
  return call(fn, args);
}

Value Interpreter::eval(const Expr& e, const FramePtr& frame) {
  step();
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.value;
    case Expr::Kind::kName: {
      const Value* v = frame->lookup(e.name);
      return v ? *v : Value::undefined(e.name);
    }
    case Expr::Kind::kList: {
      List items;
      for (const auto& a : e.args) items.push_back(eval(*a, frame));
      return e.negated ? Value::make_tuple(std::move(items)) : Value(std::move(items));
    }
    case Expr::Kind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value key = eval(*e.args[i], frame);
        if (!key.is_string())
          throw TemplateError("dict keys must be strings here, not " + key.type_name());
        Value value = eval(*e.args[i + 1], frame);
        bool replaced = false;
        for (auto& kv : d) {
          if (kv.first == key.as_string()) {
            kv.second = value;
            replaced = true;
          }
        }
        if (!replaced) d.emplace_back(key.as_string(), std::move(value));
      }
      return Value(std::move(d));
    }
    case Expr::Kind::kAttr: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) throw TemplateError(undefined_message(obj));
      return get_attr(obj, e.name);
    }
    case Expr::Kind::kItem: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) throw TemplateError(undefined_message(obj));
      return get_item(obj, eval(*e.args[1], frame));
    }
    case Expr::Kind::kSlice: {
      Value obj = eval(*e.args[0], frame);
      if (obj.is_undefined()) throw TemplateError(undefined_message(obj));
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (e.args[1 + i]) parts[i] = eval(*e.args[1 + i], frame);
      }
      return get_slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::kCall:
      return eval_call(e, frame);
    case Expr::Kind::kFilter: {
      Args args = eval_args(e, frame, 1);
      args.positional.insert(args.positional.begin(), eval(*e.args[0], frame));
      return apply_filter(*this, e.name, args);
    }
    case Expr::Kind::kTest: {
      Args args = eval_args(e, frame, 1);
      args.positional.insert(args.positional.begin(), eval(*e.args[0], frame));
      return Value(apply_test(*this, e.name, args) != e.negated);
    }
    case Expr::Kind::kUnary: {
      Value v = eval(*e.args[0], frame);
      if (e.name == "not") return Value(!v.truthy());
      if (!v.is_number())
        throw TemplateError("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
      if (e.name == "+") return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_float());
      if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow");
      return Value(-v.as_int());
    }
    case Expr::Kind::kBinary:
      return eval_binary(e, frame);
    case Expr::Kind::kAnd: {
      Value l = eval(*e.args[0], frame);
      return l.truthy() ? eval(*e.args[1], frame) : l;
    }
    case Expr::Kind::kOr: {
      Value l = eval(*e.args[0], frame);
      return l.truthy() ? l : eval(*e.args[1], frame);
    }
    case Expr::Kind::kCondition: {
      if (eval(*e.args[0], frame).truthy()) return eval(*e.args[1], frame);
      return e.args[2] ? eval(*e.args[2], frame) : Value::undefined("");
    }
  }
  return Value();
}

Value Interpreter::eval_binary(const Expr& e, const FramePtr& frame) {
  const std::string& op = e.name;
  Value a = eval(*e.args[0], frame);
  Value b = eval(*e.args[1], frame);
  if (op == "~") {
    std::string s = a.str();
    check_size(s.size() + b.str().size());
    return Value(s + b.str());
  }
  if (op == "==") return Value(equals(a, b));
  if (op == "!=") return Value(!equals(a, b));
  if (op == "in") return Value(contains(b, a));
  if (op == "not in") return Value(!contains(b, a));
  for (const Value* v : {&a, &b}) {
    if (v->is_undefined()) throw TemplateError(undefined_message(*v));
  }
  if (op == "<") return Value(less(a, b));
  if (op == ">") return Value(less(b, a));
  if (op == "<=") return Value(!less(b, a));
  if (op == ">=") return Value(!less(a, b));
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == "+" && a.kind() == b.kind() && (a.is_string() || a.is_list())) {
    if (a.is_string()) {
      check_size(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    List l = a.as_list();
    l.insert(l.end(), b.as_list().begin(), b.as_list().end());
    return Value(std::move(l));
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  if (op == "*" && (a.is_string() || a.is_list()) && b.is_int())
    return repeat(a, b.as_int(), *this);
  if (op == "*" && (b.is_string() || b.is_list()) && a.is_int())
    return repeat(b, a.as_int(), *this);
  bad_operands(op, a, b);
}

}  // namespace assay::inference::jinja
