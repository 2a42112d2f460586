// The values a Jinja chat template computes with: Python's None, bool, int, float, str, list and
// dict (insertion-ordered), Jinja's undefined, namespaces and callables (macros, methods,
// globals). Lists and dicts are immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment), so copies share them; a namespace is shared and mutable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace assay::inference::jinja {

class Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion order, unique keys

// Positional and keyword arguments of a call.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using Function = std::function<Value(Args&)>;

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable };

  Value() = default;  // undefined
  static Value undefined(std::string name) {
    Value v;
    v.str_ = std::make_shared<std::string>(std::move(name));
    return v;
  }
  static Value none() { return Value(Kind::kNone); }
  Value(bool b) : kind_(Kind::kBool), int_(b) {}
  Value(int64_t i) : kind_(Kind::kInt), int_(i) {}
  Value(int i) : kind_(Kind::kInt), int_(i) {}
  Value(double d) : kind_(Kind::kFloat), float_(d) {}
  Value(std::string s) : kind_(Kind::kString), str_(std::make_shared<std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(List l) : kind_(Kind::kList), list_(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : kind_(Kind::kDict), dict_(std::make_shared<Dict>(std::move(d))) {}
  // A namespace(): a dict whose attributes `set ns.x = ...` may change.
  static Value make_namespace(Dict d) {
    Value v(std::move(d));
    v.namespace_ = true;
    return v;
  }
  // A tuple: a list that Python prints as (a, b) (dict.items(), dictsort, literals "(a, b)").
  static Value make_tuple(List l) {
    Value v(std::move(l));
    v.tuple_ = true;
    return v;
  }
  static Value callable(Function f) {
    Value v(Kind::kCallable);
    v.fn_ = std::make_shared<Function>(std::move(f));
    return v;
  }
  // From JSON (objects keep their key order); JSON null is None.
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return namespace_; }
  bool is_tuple() const { return tuple_; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // bool and int
  double as_float() const;                 // bool, int and float
  const std::string& as_string() const { return *str_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& mutable_namespace() { return *dict_; }  // only for a namespace
  const Function& as_function() const { return *fn_; }
  // The name an undefined value was looked up by ("" when unknown), for error messages.
  std::string undefined_name() const { return str_ ? *str_ : std::string(); }

  // Python truthiness (undefined is false).
  bool truthy() const;
  // The dict entry for `key`, or nullptr.
  const Value* find(const std::string& key) const;
  // Python's str(x) (undefined is ""), repr(x), and type name for error messages.
  std::string str() const;
  std::string repr() const;
  std::string type_name() const;
  // json.dumps(x, ensure_ascii=False, indent=indent, separators=..., sort_keys=...). `indent` < 0
  // means None. Throws TemplateError for undefined or callable values.
  std::string to_json(int indent, const std::string& item_sep, const std::string& key_sep,
                      bool sort_keys) const;

 private:
  explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::kUndefined;
  bool namespace_ = false;
  bool tuple_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<std::string> str_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Python ==, with 1 == 1.0 == True, and undefined equal only to undefined.
bool equals(const Value& a, const Value& b);
// Python <; throws TemplateError for values Python cannot order.
bool less(const Value& a, const Value& b);
// Python's repr() of a float: the shortest text that reads back, "1.0", "1e-05", "inf".
std::string float_repr(double d);

// An error raised while rendering: a template's raise_exception (raised_by_template) or an
// operation Jinja refuses (undefined attribute, bad operand types, limits exceeded).
class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& message, bool raised_by_template = false,
                         bool located = false)
      : std::runtime_error(message), raised_by_template_(raised_by_template), located_(located) {}
  bool raised_by_template() const { return raised_by_template_; }
  // Whether the message already starts with the template's "line L, column C: ".
  bool located() const { return located_; }

 private:
  bool raised_by_template_;
  bool located_;
};

}  // namespace assay::inference::jinja
