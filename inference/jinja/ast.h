// The syntax tree of a parsed chat template: expressions and statements, each with the line and
// column it starts at (for error messages).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "inference/jinja/value.h"

namespace assay::inference::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // args: the items (a tuple when negated is set)
    kDict,       // args: key, value, key, value, ...
    kAttr,       // args[0].name
    kItem,       // args[0][args[1]]
    kSlice,      // args[0][args[1]:args[2]:args[3]] (null parts omitted)
    kCall,       // args[0](args[1:], kwargs)
    kFilter,     // args[0] | name(args[1:], kwargs); args[0] is null in {% filter %}
    kTest,       // args[0] is [not] name(args[1:]); negated for "is not"
    kUnary,      // name ("-", "+", "not") args[0]
    kBinary,     // args[0] name args[1]: + - * / // % ** ~ == != < <= > >= in, "not in"
    kAnd,        // args[0] and args[1]
    kOr,         // args[0] or args[1]
    kCondition,  // args[1] if args[0] else args[2] (args[2] null: undefined)
  };
  Kind kind;
  int line = 0, col = 0;
  std::string name;
  Value value;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // if expr: body else: else_body (an elif is an kIf alone in else_body)
    kFor,          // for targets in expr [if cond] [recursive]: body else: else_body
    kSet,          // set targets = expr, or set targets[0].attr = expr
    kSetBlock,     // set targets[0] [| filter]: body
    kMacro,        // macro name(params): body
    kCallBlock,    // call(params) expr: body (the caller)
    kFilterBlock,  // filter cond: body, cond a kFilter with a null input
    kScope,        // with / generation: body in its own scope (with: params are assignments)
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0, col = 0;
  std::string text;  // text; macro name; set attribute
  ExprPtr expr;
  ExprPtr cond;  // for's filter; set block's filter
  std::vector<std::string> targets;
  std::vector<std::pair<std::string, ExprPtr>> params;  // name, default (may be null)
  bool recursive = false;
  Body body, else_body;
};

}  // namespace assay::inference::jinja
