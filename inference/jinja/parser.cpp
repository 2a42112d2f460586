#include "inference/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace assay::inference::jinja {
namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body run() {
    Body body = parse_body({});
    return body;
  }

 private:
  // --- token helpers ---
  const Token& peek(size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::kName && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(std::string("expected '") + op + "'", peek());
  }
  std::string expect_name() {
    if (peek().kind != Token::Kind::kName) fail("expected a name", peek());
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != Token::Kind::kBlockEnd) fail("expected '%}'", peek());
    next();
  }
  [[noreturn]] static void fail(const std::string& message, const Token& at) {
    std::string found = at.kind == Token::Kind::kEof ? "end of template" : "'" + at.text + "'";
    throw SyntaxError{message + " (found " + found + ")", at.line, at.col};
  }
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) fail("template nested too deeply", p_.peek());
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };
  static NodePtr make_node(Node::Kind kind, const Token& at) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = at.line;
    n->col = at.col;
    return n;
  }
  static ExprPtr make_expr(Expr::Kind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  // --- statements ---
  // Parses nodes until a {% tag %} named in `ends` (left unconsumed after its name) or the end.
  Body parse_body(const std::set<std::string>& ends) {
    DepthGuard guard(*this);
    Body body;
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::kEof) {
        if (!ends.empty()) {
          auto end = std::find_if(ends.begin(), ends.end(),
                                  [](const std::string& e) { return e.rfind("end", 0) == 0; });
          fail("missing {% " + (end != ends.end() ? *end : *ends.begin()) + " %}", t);
        }
        return body;
      }
      if (t.kind == Token::Kind::kText) {
        auto n = make_node(Node::Kind::kText, t);
        n->text = next().text;
        body.push_back(std::move(n));
      } else if (t.kind == Token::Kind::kVarBegin) {
        auto n = make_node(Node::Kind::kOutput, next());
        n->expr = parse_expression();
        if (peek().kind != Token::Kind::kVarEnd) fail("expected '}}'", peek());
        next();
        body.push_back(std::move(n));
      } else if (t.kind == Token::Kind::kBlockBegin) {
        const Token& name = peek(1);
        if (name.kind == Token::Kind::kName && ends.count(name.text)) {
          next();
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail("unexpected token", t);
      }
    }
  }
  NodePtr parse_statement() {
    const Token& t = peek();
    if (t.kind != Token::Kind::kName) fail("expected a tag name", t);
    const std::string name = t.text;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "call") return parse_call_block();
    if (name == "filter") return parse_filter_block();
    if (name == "with" || name == "generation") return parse_scope(name);
    if (name == "break" || name == "continue") {
      auto n = make_node(name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue, next());
      if (loop_depth_ == 0) fail("'" + name + "' outside a loop", t);
      expect_block_end();
      return n;
    }
    fail("unsupported tag '" + name + "'", t);
  }
  // Consumes the end tag's remaining "%}" after parse_body stopped at its name.
  std::string end_tag() {
    std::string name = next().text;
    expect_block_end();
    return name;
  }
  NodePtr parse_if() {
    auto n = make_node(Node::Kind::kIf, next());
    n->expr = parse_expression();
    expect_block_end();
    n->body = parse_body({"elif", "else", "endif"});
    const Token& tag = peek();
    if (tag.text == "elif") {
      n->else_body.push_back(parse_if());  // consumes through endif
      return n;
    }
    if (end_tag() == "else") {
      n->else_body = parse_body({"endif"});
      end_tag();
    }
    return n;
  }
  NodePtr parse_for() {
    auto n = make_node(Node::Kind::kFor, next());
    n->targets = parse_targets();
    if (!accept_name("in")) fail("expected 'in'", peek());
    n->expr = parse_condition(false);  // no inline if: "if" starts the filter
    if (accept_name("if")) n->cond = parse_expression();
    if (is_name("recursive")) fail("unsupported: recursive for loops", peek());
    expect_block_end();
    ++loop_depth_;
    n->body = parse_body({"else", "endfor"});
    --loop_depth_;
    if (end_tag() == "else") {
      n->else_body = parse_body({"endfor"});
      end_tag();
    }
    return n;
  }
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = accept_op("(");
    do {
      names.push_back(expect_name());
    } while (accept_op(","));
    if (paren) expect_op(")");
    return names;
  }
  NodePtr parse_set() {
    const Token& at = next();
    std::vector<std::string> targets = parse_targets();
    std::string attr;
    if (targets.size() == 1 && accept_op(".")) attr = expect_name();
    if (accept_op("=")) {
      auto n = make_node(Node::Kind::kSet, at);
      n->targets = std::move(targets);
      n->text = std::move(attr);
      n->expr = parse_tuple_or_expression();
      expect_block_end();
      return n;
    }
    if (targets.size() != 1 || !attr.empty()) fail("expected '='", peek());
    auto n = make_node(Node::Kind::kSetBlock, at);
    n->targets = std::move(targets);
    if (is_op("|")) n->cond = parse_filters(nullptr);
    expect_block_end();
    n->body = parse_body({"endset"});
    end_tag();
    return n;
  }
  std::vector<std::pair<std::string, ExprPtr>> parse_params() {
    std::vector<std::pair<std::string, ExprPtr>> params;
    expect_op("(");
    while (!is_op(")")) {
      std::string name = expect_name();
      ExprPtr def;
      if (accept_op("=")) def = parse_expression();
      params.emplace_back(std::move(name), std::move(def));
      if (!accept_op(",")) break;
    }
    expect_op(")");
    return params;
  }
  NodePtr parse_macro() {
    auto n = make_node(Node::Kind::kMacro, next());
    n->text = expect_name();
    n->params = parse_params();
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = parse_body({"endmacro"});
    loop_depth_ = saved;
    end_tag();
    return n;
  }
  NodePtr parse_call_block() {
    auto n = make_node(Node::Kind::kCallBlock, next());
    if (is_op("(")) n->params = parse_params();
    n->expr = parse_expression();
    if (n->expr->kind != Expr::Kind::kCall) fail("{% call %} needs a macro call", peek());
    expect_block_end();
    n->body = parse_body({"endcall"});
    end_tag();
    return n;
  }
  NodePtr parse_filter_block() {
    auto n = make_node(Node::Kind::kFilterBlock, next());
    n->cond = parse_filter_chain(nullptr, true);
    expect_block_end();
    n->body = parse_body({"endfilter"});
    end_tag();
    return n;
  }
  NodePtr parse_scope(const std::string& name) {
    auto n = make_node(Node::Kind::kScope, next());
    if (name == "with") {
      while (peek().kind == Token::Kind::kName) {
        std::string var = expect_name();
        expect_op("=");
        n->params.emplace_back(std::move(var), parse_expression());
        if (!accept_op(",")) break;
      }
    }
    expect_block_end();
    n->body = parse_body({"end" + name});
    end_tag();
    return n;
  }

  // --- expressions (jinja2's precedence) ---
  ExprPtr parse_tuple_or_expression() {
    const Token& at = peek();
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    auto list = make_expr(Expr::Kind::kList, at);
    list->negated = true;  // a tuple
    list->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().kind == Token::Kind::kBlockEnd || peek().kind == Token::Kind::kVarEnd) break;
      list->args.push_back(parse_expression());
    }
    return list;
  }
  ExprPtr parse_expression() { return parse_condition(true); }
  ExprPtr parse_condition(bool with_inline_if) {
    DepthGuard guard(*this);
    ExprPtr expr = parse_or();
    while (with_inline_if && is_name("if")) {
      auto cond = make_expr(Expr::Kind::kCondition, next());
      ExprPtr test = parse_or();
      cond->args.push_back(std::move(test));
      cond->args.push_back(std::move(expr));
      cond->args.push_back(accept_name("else") ? parse_condition(true) : nullptr);
      expr = std::move(cond);
    }
    return expr;
  }
  ExprPtr binary(Expr::Kind kind, const Token& at, std::string op, ExprPtr l, ExprPtr r) {
    auto e = make_expr(kind, at);
    e->name = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }
  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      const Token& at = next();
      l = binary(Expr::Kind::kOr, at, "or", std::move(l), parse_and());
    }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      const Token& at = next();
      l = binary(Expr::Kind::kAnd, at, "and", std::move(l), parse_not());
    }
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make_expr(Expr::Kind::kUnary, next());
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr l = parse_math1();
    for (;;) {
      const Token& at = peek();
      std::string op;
      if (at.kind == Token::Kind::kOp && (at.text == "==" || at.text == "!=" || at.text == "<" ||
                                          at.text == "<=" || at.text == ">" || at.text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        op = next().text;
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        return l;
      }
      l = binary(Expr::Kind::kBinary, at, op, std::move(l), parse_math1());
    }
  }
  ExprPtr parse_left_assoc(ExprPtr (Parser::*operand)(), std::initializer_list<const char*> ops) {
    ExprPtr l = (this->*operand)();
    for (;;) {
      const char* found = nullptr;
      for (const char* op : ops) {
        if (is_op(op)) found = op;
      }
      if (!found) return l;
      const Token& at = next();
      l = binary(Expr::Kind::kBinary, at, found, std::move(l), (this->*operand)());
    }
  }
  ExprPtr parse_math1() { return parse_left_assoc(&Parser::parse_concat, {"+", "-"}); }
  ExprPtr parse_concat() { return parse_left_assoc(&Parser::parse_math2, {"~"}); }
  ExprPtr parse_math2() { return parse_left_assoc(&Parser::parse_pow, {"*", "/", "//", "%"}); }
  ExprPtr parse_pow() { return parse_left_assoc(&Parser::parse_unary_no_filter_wrapper, {"**"}); }
  ExprPtr parse_unary_no_filter_wrapper() { return parse_unary(true); }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make_expr(Expr::Kind::kUnary, peek());
      e->name = next().text;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) return parse_filter_chain(std::move(e), false);
    return e;
  }
  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Token::Kind::kName:
        return parse_name();
      case Token::Kind::kString: {
        auto e = make_expr(Expr::Kind::kLiteral, t);
        std::string s;
        while (peek().kind == Token::Kind::kString) s += next().text;  // adjacent literals join
        e->value = Value(std::move(s));
        return e;
      }
      case Token::Kind::kInt:
        return parse_int();
      case Token::Kind::kFloat: {
        auto e = make_expr(Expr::Kind::kLiteral, next());
        e->value = Value(std::strtod(t.text.c_str(), nullptr));
        return e;
      }
      case Token::Kind::kOp:
        if (t.text == "(") return parse_paren();
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail("expected an expression", t);
  }
  ExprPtr parse_int() {
    const Token& t = next();
    int64_t v = 0;
    auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (res.ec != std::errc()) fail("integer literal out of range", t);
    auto e = make_expr(Expr::Kind::kLiteral, t);
    e->value = Value(v);
    return e;
  }
  ExprPtr parse_name() {
    const Token& t = next();
    auto e = make_expr(Expr::Kind::kLiteral, t);
    if (t.text == "true" || t.text == "True")
      e->value = Value(true);
    else if (t.text == "false" || t.text == "False")
      e->value = Value(false);
    else if (t.text == "none" || t.text == "None")
      e->value = Value::none();
    else {
      e->kind = Expr::Kind::kName;
      e->name = t.text;
    }
    return e;
  }
  ExprPtr parse_paren() {
    const Token& at = next();
    if (accept_op(")")) {
      auto empty = make_expr(Expr::Kind::kList, at);  // ()
      empty->negated = true;
      return empty;
    }
    ExprPtr first = parse_expression();
    if (accept_op(")")) return first;
    auto list = make_expr(Expr::Kind::kList, at);
    list->negated = true;  // a tuple
    list->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (is_op(")")) break;
      list->args.push_back(parse_expression());
    }
    expect_op(")");
    return list;
  }
  ExprPtr parse_list() {
    auto list = make_expr(Expr::Kind::kList, next());
    while (!is_op("]")) {
      list->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("]");
    return list;
  }
  ExprPtr parse_dict() {
    auto dict = make_expr(Expr::Kind::kDict, next());
    while (!is_op("}")) {
      dict->args.push_back(parse_expression());
      expect_op(":");
      dict->args.push_back(parse_expression());
      if (!accept_op(",")) break;
    }
    expect_op("}");
    return dict;
  }
  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      const Token& at = peek();
      if (accept_op(".")) {
        auto a = make_expr(Expr::Kind::kAttr, at);
        if (peek().kind == Token::Kind::kInt) {
          a->kind = Expr::Kind::kItem;
          a->args.push_back(std::move(e));
          a->args.push_back(parse_int());
        } else {
          a->name = expect_name();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }
  ExprPtr parse_subscript(ExprPtr obj) {
    const Token& at = next();
    ExprPtr parts[3];
    int colons = 0;
    for (;;) {
      if (is_op(":")) {
        if (++colons > 2) fail("too many ':' in a slice", peek());
        next();
      } else if (is_op("]")) {
        break;
      } else {
        if (parts[colons]) fail("expected ']'", peek());
        parts[colons] = parse_expression();
      }
    }
    expect_op("]");
    auto e = make_expr(colons ? Expr::Kind::kSlice : Expr::Kind::kItem, at);
    e->args.push_back(std::move(obj));
    if (!colons && !parts[0]) fail("empty subscript", at);
    for (int i = 0; i <= (colons ? 2 : 0); ++i) e->args.push_back(std::move(parts[i]));
    return e;
  }
  // Arguments "(a, b, k=v)" into e->args (after what is there) and e->kwargs.
  void parse_arguments(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Token::Kind::kName && is_op("=", 1)) {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail("positional argument after a keyword argument", peek());
        e.args.push_back(parse_expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }
  ExprPtr parse_call(ExprPtr callee) {
    auto e = make_expr(Expr::Kind::kCall, peek());
    e->args.push_back(std::move(callee));
    parse_arguments(*e);
    return e;
  }
  // Filters ("| name(args)") and tests ("is [not] name args") after a unary expression.
  ExprPtr parse_filter_chain(ExprPtr e, bool filters_only) {
    for (;;) {
      if (is_op("|") || (filters_only && !e)) {
        e = parse_filters(std::move(e));
      } else if (!filters_only && is_name("is")) {
        e = parse_test(std::move(e));
      } else if (!filters_only && e && is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }
  ExprPtr parse_filters(ExprPtr input) {
    if (input || is_op("|")) expect_op("|");
    const Token& at = peek();
    auto f = make_expr(Expr::Kind::kFilter, at);
    f->name = expect_name();
    while (accept_op(".")) f->name += "." + expect_name();
    if (!is_known_filter(f->name)) fail("unsupported filter '" + f->name + "'", at);
    f->args.push_back(std::move(input));
    if (is_op("(")) parse_arguments(*f);
    if (is_op("|")) return parse_filters(std::move(f));
    return f;
  }
  ExprPtr parse_test(ExprPtr input) {
    next();  // is
    auto t = make_expr(Expr::Kind::kTest, peek());
    t->negated = accept_name("not");
    const Token& at = peek();
    t->name = expect_name();
    if (!is_known_test(t->name)) fail("unsupported test '" + t->name + "'", at);
    t->args.push_back(std::move(input));
    if (is_op("(")) {
      parse_arguments(*t);
    } else if (starts_test_argument()) {
      t->args.push_back(parse_postfix(parse_primary()));
    }
    return t;
  }
  bool starts_test_argument() const {
    const Token& t = peek();
    if (t.kind == Token::Kind::kString || t.kind == Token::Kind::kInt ||
        t.kind == Token::Kind::kFloat)
      return true;
    if (t.kind == Token::Kind::kOp) return t.text == "[" || t.text == "{";
    if (t.kind != Token::Kind::kName) return false;
    static const std::set<std::string> kStop = {"else", "or", "and", "if",
                                                "is",   "in", "not", "recursive"};
    return !kStop.count(t.text);
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse(std::string_view source) {
  return Parser(tokenize(source)).run();
}

}  // namespace assay::inference::jinja
