#include <algorithm>
#include <cctype>
#include <optional>

#include "inference/jinja/args.h"
#include "inference/jinja/builtins.h"
#include "inference/jinja/py_str.h"

namespace assay::inference::jinja {
namespace {

Value bound(std::function<Value(Args&)> f) {
  return Value::callable(std::move(f));
}

Value string_method(const std::string& s, const std::string& name) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return bound(
        [s, l, r](Args& a) { return Value(strip(s, arg(a, 0, "chars", Value::none()), l, r)); });
  }
  if (name == "split") {
    return bound([s](Args& a) {
      return Value(split(s, arg(a, 0, "sep", Value::none()),
                         need_int(arg(a, 1, "maxsplit", Value(-1)), "split")));
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return bound([s, prefix](Args& a) { return Value(affix(s, arg(a, 0, "prefix"), prefix)); });
  }
  if (name == "upper") return bound([s](Args&) { return Value(upper(s)); });
  if (name == "lower") return bound([s](Args&) { return Value(lower(s)); });
  if (name == "title") return bound([s](Args&) { return Value(title(s)); });
  if (name == "capitalize") return bound([s](Args&) { return Value(capitalize(s)); });
  if (name == "replace") {
    return bound([s](Args& a) {
      return Value(replace(s, need_string(arg(a, 0, "old"), "replace"),
                           need_string(arg(a, 1, "new"), "replace"),
                           need_int(arg(a, 2, "count", Value(-1)), "replace")));
    });
  }
  if (name == "find" || name == "count") {
    bool find = name == "find";
    return bound([s, find](Args& a) {
      const std::string& sub = need_string(arg(a, 0, "sub"), find ? "find" : "count");
      if (find) {
        size_t hit = s.find(sub);
        return Value(hit == std::string::npos ? int64_t{-1} : cp_index(s, hit));
      }
      if (sub.empty()) return Value(static_cast<int64_t>(code_points(s).size()) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    });
  }
  if (name == "join") {
    return bound([s](Args& a) {
      std::string out;
      List items = iterate(arg(a, 0, "iterable"));
      for (size_t i = 0; i < items.size(); ++i) out += (i ? s : "") + need_string(items[i], "join");
      return Value(std::move(out));
    });
  }
  if (name == "splitlines") {
    return bound([s](Args&) {
      List out;
      size_t pos = 0;
      while (pos < s.size()) {
        size_t nl = s.find_first_of("\r\n", pos);
        if (nl == std::string::npos) nl = s.size();
        out.push_back(Value(s.substr(pos, nl - pos)));
        pos = nl + ((nl + 1 < s.size() && s[nl] == '\r' && s[nl + 1] == '\n') ? 2 : 1);
      }
      return Value(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" ||
      name == "islower" || name == "isupper") {
    return bound([s, name](Args&) {
      if (s.empty()) return Value(false);
      if (name == "islower") return Value(s == lower(s) && s != upper(s));
      if (name == "isupper") return Value(s == upper(s) && s != lower(s));
      for (std::string_view cp : code_points(s)) {
        unsigned char c =
            static_cast<unsigned char>(cp[0]);  // ASCII classes; other code points are not
        bool ok = name == "isspace"   ? is_py_space(cp)
                  : name == "isdigit" ? (c >= '0' && c <= '9')
                  : name == "isalpha" ? (cp.size() == 1 && std::isalpha(c) != 0)
                                      : (cp.size() == 1 && std::isalnum(c) != 0);
        if (!ok) return Value(false);
      }
      return Value(true);
    });
  }
  return Value::undefined(name);
}

Value dict_method(const Value& d, const std::string& name) {
  if (name == "items") {
    return bound([d](Args&) {
      List out;
      for (const auto& [k, v] : d.as_dict()) out.push_back(Value::make_tuple(List{Value(k), v}));
      return Value(std::move(out));
    });
  }
  if (name == "keys" || name == "values") {
    bool keys = name == "keys";
    return bound([d, keys](Args&) {
      List out;
      for (const auto& [k, v] : d.as_dict()) out.push_back(keys ? Value(k) : v);
      return Value(std::move(out));
    });
  }
  if (name == "get") {
    return bound([d](Args& a) {
      Value key = arg(a, 0, "key");
      const Value* v = key.is_string() ? d.find(key.as_string()) : nullptr;
      return v ? *v : arg(a, 1, "default", Value::none());
    });
  }
  return Value::undefined(name);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_namespace()) {
    const Value* v = obj.find(name);
    return v ? *v : Value::undefined(name);
  }
  if (obj.is_dict()) {
    Value method = dict_method(obj, name);
    if (!method.is_undefined()) return method;
    const Value* v = obj.find(name);
    return v ? *v : Value::undefined(name);
  }
  if (obj.is_string()) return string_method(obj.as_string(), name);
  return Value::undefined(name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (!key.is_string()) return Value::undefined(key.str());
    const Value* v = obj.find(key.as_string());
    if (v) return *v;
    return obj.is_namespace() ? Value::undefined(key.as_string()) : get_attr(obj, key.as_string());
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    std::vector<std::string_view> cps;
    if (obj.is_string()) cps = code_points(obj.as_string());
    int64_t n = obj.is_list() ? static_cast<int64_t>(obj.as_list().size())
                              : static_cast<int64_t>(cps.size());
    int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
    if (i < 0 || i >= n)
      return Value::undefined(obj.type_name() + " index " + std::to_string(key.as_int()));
    if (obj.is_list()) return obj.as_list()[static_cast<size_t>(i)];
    return Value(std::string(cps[static_cast<size_t>(i)]));
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined(key.str());
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v) {
  if (!obj.is_list() && !obj.is_string())
    throw TemplateError("'" + obj.type_name() + "' object is not subscriptable");
  List items = iterate(obj);
  int64_t n = static_cast<int64_t>(items.size());
  auto index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    return need_int(v, what);
  };
  int64_t step = index(step_v, "slice step").value_or(1);
  if (step == 0) throw TemplateError("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t i = *v < 0 ? *v + n : *v;
    return step > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t b = clamp(index(start, "slice start"), step > 0 ? 0 : n - 1);
  int64_t e = clamp(index(stop, "slice stop"), step > 0 ? n : -1);
  List out;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step)
    out.push_back(items[static_cast<size_t>(i)]);
  if (obj.is_list()) return Value(std::move(out));
  std::string s;
  for (const Value& v : out) s += v.as_string();
  return Value(std::move(s));
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.as_list();
    case Value::Kind::kDict: {
      List keys;
      for (const auto& kv : v.as_dict()) keys.push_back(Value(kv.first));
      return keys;
    }
    case Value::Kind::kString: {
      if (v.as_string().size() > (size_t{4} << 20))
        throw TemplateError("string too long to iterate");
      List chars;
      for (std::string_view cp : code_points(v.as_string()))
        chars.push_back(Value(std::string(cp)));
      return chars;
    }
    default:
      throw TemplateError("'" + v.type_name() + "' object is not iterable");
  }
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string())
      throw TemplateError("'in <string>' requires string as left operand, not " + item.type_name());
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.find(item.as_string()) != nullptr;
  if (container.is_list()) {
    return std::any_of(container.as_list().begin(), container.as_list().end(),
                       [&](const Value& v) { return equals(v, item); });
  }
  if (container.is_undefined()) return false;
  throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
}

}  // namespace assay::inference::jinja
