#include "inference/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include <utf8proc.h>

#include "core/utf8.h"
#include "inference/jinja/interpreter.h"
#include "inference/jinja/parser.h"

namespace assay::inference::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox refuses longer ranges
constexpr size_t kMaxString = size_t{64} << 20;  // as RenderLimits::max_output_bytes

// Throws when a string being built would pass kMaxString.
void check_growth(size_t bytes) {
  if (bytes > kMaxString) throw TemplateError("a string built by the template exceeds the size limit");
}

// --- argument helpers ---

// The argument at `pos` or named `key`, else `def`.
Value arg(const Args& args, size_t pos, const char* key, Value def = Value()) {
  for (const auto& [k, v] : args.keyword) {
    if (k == key) return v;
  }
  if (pos < args.positional.size()) return args.positional[pos];
  return def;
}
bool has_arg(const Args& args, size_t pos, const char* key) {
  for (const auto& kv : args.keyword) {
    if (kv.first == key) return true;
  }
  return pos < args.positional.size();
}
const std::string& need_string(const Value& v, const char* what) {
  if (!v.is_string()) throw TemplateError(std::string(what) + " expects a string, got " + v.type_name());
  return v.as_string();
}
int64_t need_int(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool()) throw TemplateError(std::string(what) + " expects an integer, got " + v.type_name());
  return v.as_int();
}

// --- UTF-8 and Python's whitespace ---

uint32_t decode(std::string_view cp) {
  size_t pos = 0;
  return static_cast<uint32_t>(utf8::decode(cp, pos));
}
bool is_py_space(uint32_t c) { return utf8::py_isspace(static_cast<char32_t>(c)); }
std::string join_points(const std::vector<std::string_view>& cps, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += cps[i];
  return out;
}
// str.strip/lstrip/rstrip: `chars` none/undefined means whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<std::string_view> cps = code_points(s);
  std::vector<std::string_view> set;
  bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) set = code_points(need_string(chars, "strip"));
  auto drop = [&](std::string_view cp) {
    return ws ? is_py_space(decode(cp)) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size();
  while (left && b < e && drop(cps[b])) ++b;
  while (right && e > b && drop(cps[e - 1])) --e;
  return join_points(cps, b, e);
}
std::string lower(const std::string& s) { return utf8::py_lower(s); }
// Python's str.upper() with simple (one code point) case mappings.
std::string upper(const std::string& s) {
  std::string out;
  for (char32_t cp : utf8::to_u32(s)) {
    utf8::append(out, static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}
// str.title(): each run of letters starts upper-case, the rest lower-case (ASCII letters only).
std::string title(const std::string& s) {
  std::string out = s;
  bool prev_alpha = false;
  for (char& c : out) {
    bool alpha = std::isalpha(static_cast<unsigned char>(c));
    if (alpha) c = static_cast<char>(prev_alpha ? std::tolower(static_cast<unsigned char>(c)) : std::toupper(static_cast<unsigned char>(c)));
    prev_alpha = alpha || (static_cast<unsigned char>(c) >= 0x80 && prev_alpha);
  }
  return out;
}
std::string capitalize(const std::string& s) {
  std::string out = lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every character
    std::vector<std::string_view> cps = code_points(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (i < cps.size()) out += cps[i];
      check_growth(out.size());
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  for (size_t hit; (count < 0 || done < count) && (hit = s.find(from, pos)) != std::string::npos; ++done) {
    out.append(s, pos, hit - pos);
    out += to;
    check_growth(out.size());
    pos = hit + from.size();
  }
  return out + s.substr(pos);
}
List split(const std::string& s, const Value& sep, int64_t maxsplit) {
  List out;
  if (sep.is_none() || sep.is_undefined()) {
    std::vector<std::string_view> cps = code_points(s);
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_py_space(decode(cps[i]))) ++i;
      if (i == cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        std::string rest = join_points(cps, i, cps.size());
        out.push_back(Value(strip(rest, Value::none(), false, true)));
        return out;
      }
      size_t j = i;
      while (j < cps.size() && !is_py_space(decode(cps[j]))) ++j;
      out.push_back(Value(join_points(cps, i, j)));
      i = j;
    }
    return out;
  }
  const std::string& d = need_string(sep, "split");
  if (d.empty()) throw TemplateError("split: empty separator");
  size_t pos = 0;
  for (size_t hit; (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) && (hit = s.find(d, pos)) != std::string::npos;) {
    out.push_back(Value(s.substr(pos, hit - pos)));
    pos = hit + d.size();
  }
  out.push_back(Value(s.substr(pos)));
  return out;
}
bool affix(const std::string& s, const Value& what, bool prefix) {
  auto one = [&](const Value& v) {
    const std::string& a = need_string(v, prefix ? "startswith" : "endswith");
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (what.is_list()) {
    return std::any_of(what.as_list().begin(), what.as_list().end(), one);
  }
  return one(what);
}
// Byte offset -> code point index, for find().
int64_t cp_index(const std::string& s, size_t byte) {
  return static_cast<int64_t>(code_points(std::string_view(s).substr(0, byte)).size());
}

// Python's printf-style "fmt % args" for %s, %r, %d, %i, %f (with a precision) and %%.
std::string format_percent(const std::string& fmt, const Value& args) {
  List items = args.is_list() ? args.as_list() : List{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string name;
    if (j < fmt.size() && fmt[j] == '(') {
      size_t close = fmt.find(')', j);
      if (close == std::string::npos) throw TemplateError("format: unclosed '%('");
      name = fmt.substr(j + 1, close - j - 1);
      j = close + 1;
    }
    int precision = -1;
    if (j < fmt.size() && fmt[j] == '.') {
      precision = 0;
      for (++j; j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j])) && precision < 100; ++j) {
        precision = precision * 10 + (fmt[j] - '0');
      }
    }
    if (j >= fmt.size()) throw TemplateError("format: incomplete format");
    char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    Value v;
    if (!name.empty()) {
      const Value* found = args.find(name);
      if (!found) throw TemplateError("format: no key '" + name + "'");
      v = *found;
    } else {
      if (next >= items.size()) throw TemplateError("not enough arguments for format string");
      v = items[next++];
    }
    check_growth(out.size());
    if (conv == 's') out += v.str();
    else if (conv == 'r') out += v.repr();
    else if ((conv == 'd' || conv == 'i') && v.is_number()) out += std::to_string(v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int());
    else if (conv == 'f' && v.is_number()) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", precision < 0 ? 6 : precision, v.as_float());
      out += buf;
    } else {
      throw TemplateError(std::string("format: unsupported conversion '%") + conv + "' for " + v.type_name());
    }
  }
  if (next < items.size() && args.is_list()) throw TemplateError("not all arguments converted during string formatting");
  return out;
}

Value bound(std::function<Value(Args&)> f) { return Value::callable(std::move(f)); }

Value string_method(const std::string& s, const std::string& name) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return bound([s, l, r](Args& a) { return Value(strip(s, arg(a, 0, "chars", Value::none()), l, r)); });
  }
  if (name == "split") {
    return bound([s](Args& a) { return Value(split(s, arg(a, 0, "sep", Value::none()), need_int(arg(a, 1, "maxsplit", Value(-1)), "split"))); });
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
      return Value(replace(s, need_string(arg(a, 0, "old"), "replace"), need_string(arg(a, 1, "new"), "replace"),
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
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" || name == "islower" || name == "isupper") {
    return bound([s, name](Args&) {
      if (s.empty()) return Value(false);
      if (name == "islower") return Value(s == lower(s) && s != upper(s));
      if (name == "isupper") return Value(s == upper(s) && s != lower(s));
      for (std::string_view cp : code_points(s)) {
        uint32_t c = decode(cp);
        bool ok = name == "isspace" ? is_py_space(c)
                  : name == "isdigit" ? (c >= '0' && c <= '9')
                  : name == "isalpha" ? std::isalpha(static_cast<int>(c < 128 ? c : 0)) != 0
                                      : std::isalnum(static_cast<int>(c < 128 ? c : 0)) != 0;
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

// --- filters ---

int64_t length(const Value& v) {
  if (v.is_string()) return static_cast<int64_t>(code_points(v.as_string()).size());
  if (v.is_list()) return static_cast<int64_t>(v.as_list().size());
  if (v.is_dict()) return static_cast<int64_t>(v.as_dict().size());
  if (v.is_undefined()) return 0;
  throw TemplateError("object of type '" + v.type_name() + "' has no len()");
}

// The attribute path "a.b" or index of an item, as jinja2's make_attrgetter.
Value attribute_of(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  Value v = item;
  std::string path = need_string(attribute, "attribute");
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    v = digits ? get_item(v, Value(static_cast<int64_t>(std::stoll(part)))) : get_item(v, Value(part));
    if (dot == std::string::npos) return v;
    pos = dot + 1;
  }
}

Value to_int(const Value& v, const Value& def) {
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) > 9.2e18) return def;
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    std::string s = strip(v.as_string(), Value::none(), true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    try {
      size_t used = 0;
      long long i = std::stoll(s, &used, 10);
      if (used == s.size()) return Value(static_cast<int64_t>(i));
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    std::string s = strip(v.as_string(), Value::none(), true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

// select/reject/selectattr/rejectattr: the items for which the test (or truthiness) holds.
Value select_items(Interpreter& interp, Args& args, bool with_attr, bool keep) {
  List items = iterate(args.positional.at(0));
  size_t next = 1;
  Value attr;
  if (with_attr) {
    if (args.positional.size() < 2) throw TemplateError("selectattr/rejectattr need an attribute");
    attr = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) test = need_string(args.positional[next++], "select");
  if (!test.empty() && !is_known_test(test)) throw TemplateError("no test named '" + test + "'");
  List out;
  for (const Value& item : items) {
    Value v = with_attr ? attribute_of(item, attr) : item;
    bool ok;
    if (test.empty()) {
      ok = v.truthy();
    } else {
      Args targs;
      targs.positional.push_back(v);
      targs.positional.insert(targs.positional.end(), args.positional.begin() + static_cast<long>(next), args.positional.end());
      ok = apply_test(interp, test, targs);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value map_items(Interpreter& interp, Args& args) {
  List items = iterate(args.positional.at(0));
  List out;
  if (has_arg(args, 99, "attribute")) {
    Value attr = arg(args, 99, "attribute");
    Value def = arg(args, 99, "default");
    for (const Value& item : items) {
      Value v = attribute_of(item, attr);
      out.push_back(v.is_undefined() && has_arg(args, 99, "default") ? def : v);
    }
    return Value(std::move(out));
  }
  if (args.positional.size() < 2) throw TemplateError("map needs a filter name or attribute=");
  std::string filter = need_string(args.positional[1], "map");
  if (!is_known_filter(filter)) throw TemplateError("no filter named '" + filter + "'");
  for (const Value& item : items) {
    Args fargs;
    fargs.positional.push_back(item);
    fargs.positional.insert(fargs.positional.end(), args.positional.begin() + 2, args.positional.end());
    fargs.keyword = args.keyword;
    out.push_back(apply_filter(interp, filter, fargs));
  }
  return Value(std::move(out));
}

// The sort key: case-insensitive strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value(lower(v.as_string())) : v;
}

Value sort_items(const Args& args) {
  List items = iterate(args.positional.at(0));
  bool reverse = arg(args, 1, "reverse", Value(false)).truthy();
  bool cs = arg(args, 2, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 3, "attribute", Value::none());
  auto key = [&](const Value& v) { return sort_key(attr.is_none() ? v : attribute_of(v, attr), cs); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? less(key(b), key(a)) : less(key(a), key(b));
  });
  return Value(std::move(items));
}

Value unique_items(const Args& args) {
  List items = iterate(args.positional.at(0));
  bool cs = arg(args, 1, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 2, "attribute", Value::none());
  List out, seen;
  for (const Value& item : items) {
    Value k = sort_key(attr.is_none() ? item : attribute_of(item, attr), cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value(std::move(out));
}

Value min_max(const Args& args, bool max) {
  List items = iterate(args.positional.at(0));
  if (items.empty()) return Value::undefined("min/max of an empty sequence");
  bool cs = arg(args, 1, "case_sensitive", Value(false)).truthy();
  Value attr = arg(args, 2, "attribute", Value::none());
  auto key = [&](const Value& v) { return sort_key(attr.is_none() ? v : attribute_of(v, attr), cs); };
  Value best = items[0];
  for (const Value& v : items) {
    if (max ? less(key(best), key(v)) : less(key(v), key(best))) best = v;
  }
  return best;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// jinja2's do_indent, quirks included (the text gets a "\n" before splitting into lines).
std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  std::string pad = width.is_string() ? width.as_string()
                                      : std::string(static_cast<size_t>(std::clamp<int64_t>(need_int(width, "indent"), 0, 1024)), ' ');
  std::vector<std::string> lines;
  std::string text = s + "\n";
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find_first_of("\r\n", pos);
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + ((text[nl] == '\r' && nl + 1 < text.size() && text[nl + 1] == '\n') ? 2 : 1);
  }
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    out += "\n" + ((blank || !lines[i].empty()) ? pad : "") + lines[i];
    check_growth(out.size());
  }
  return first ? pad + out : out;
}

// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value tojson(const Args& args) {
  bool ensure_ascii = arg(args, 1, "ensure_ascii", Value(false)).truthy();
  Value indent = arg(args, 2, "indent", Value::none());
  Value seps = arg(args, 3, "separators", Value::none());
  bool sort_keys = arg(args, 4, "sort_keys", Value(false)).truthy();
  int ind = indent.is_none() ? -1 : static_cast<int>(std::clamp<int64_t>(need_int(indent, "tojson indent"), 0, 64));
  std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
  if (!seps.is_none()) {
    List parts = iterate(seps);
    if (parts.size() != 2) throw TemplateError("tojson: separators must be a pair");
    item_sep = need_string(parts[0], "tojson separators");
    key_sep = need_string(parts[1], "tojson separators");
  }
  std::string out = args.positional.at(0).to_json(ind, item_sep, key_sep, sort_keys);
  if (!ensure_ascii) return Value(std::move(out));
  std::string ascii;  // json.dumps(ensure_ascii=True): \uXXXX, surrogate pairs above U+FFFF
  for (char32_t cp : utf8::to_u32(out)) {
    if (cp < 0x7f) {  // Python escapes DEL too
      ascii += static_cast<char>(cp);
      continue;
    }
    auto unit = [&](uint32_t u) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      ascii += buf;
    };
    if (cp >= 0x10000) {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return Value(std::move(ascii));
}

Value round_filter(const Args& args) {
  if (!args.positional.at(0).is_number()) throw TemplateError("round expects a number");
  double v = args.positional.at(0).as_float();
  int64_t precision = need_int(arg(args, 1, "precision", Value(0)), "round");
  std::string method = need_string(arg(args, 2, "method", Value("common")), "round");
  double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
  double x = v * scale;
  x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return Value(x / scale);
}

using FilterFn = Value (*)(Interpreter&, Args&);

const Value& in(const Args& a) { return a.positional.at(0); }
std::string in_str(const Args& a) { return in(a).str(); }

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> kFilters = {
      {"abs", [](Interpreter&, Args& a) {
         const Value& v = in(a);
         if (!v.is_number()) throw TemplateError("bad operand type for abs(): '" + v.type_name() + "'");
         return v.is_float() ? Value(std::fabs(v.as_float())) : Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
       }},
      {"attr", [](Interpreter&, Args& a) { return get_attr(in(a), need_string(arg(a, 1, "name"), "attr")); }},
      {"capitalize", [](Interpreter&, Args& a) { return Value(capitalize(in_str(a))); }},
      {"count", [](Interpreter&, Args& a) { return Value(length(in(a))); }},
      {"default", [](Interpreter&, Args& a) {
         bool boolean = arg(a, 2, "boolean", Value(false)).truthy();
         const Value& v = in(a);
         return (v.is_undefined() || (boolean && !v.truthy())) ? arg(a, 1, "default_value", Value("")) : v;
       }},
      {"dictsort", [](Interpreter&, Args& a) {
         if (!in(a).is_dict()) throw TemplateError("dictsort expects a dict");
         bool cs = arg(a, 1, "case_sensitive", Value(false)).truthy();
         bool by_value = need_string(arg(a, 2, "by", Value("key")), "dictsort") == "value";
         bool reverse = arg(a, 3, "reverse", Value(false)).truthy();
         List items;
         for (const auto& [k, v] : in(a).as_dict()) items.push_back(Value::make_tuple(List{Value(k), v}));
         std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
           const Value& kx = x.as_list()[by_value];
           const Value& ky = y.as_list()[by_value];
           return reverse ? less(sort_key(ky, cs), sort_key(kx, cs)) : less(sort_key(kx, cs), sort_key(ky, cs));
         });
         return Value(std::move(items));
       }},
      {"escape", [](Interpreter&, Args& a) { return Value(escape_html(in_str(a))); }},
      {"format", [](Interpreter&, Args& a) {
         List rest(a.positional.begin() + 1, a.positional.end());
         if (!a.keyword.empty()) return Value(format_percent(in_str(a), Value(Dict(a.keyword.begin(), a.keyword.end()))));
         return Value(format_percent(in_str(a), Value::make_tuple(std::move(rest))));
       }},
      {"first", [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         return items.empty() ? Value::undefined("first of an empty sequence") : items.front();
       }},
      {"float", [](Interpreter&, Args& a) { return to_float(in(a), arg(a, 1, "default", Value(0.0))); }},
      {"indent", [](Interpreter&, Args& a) {
         return Value(indent(in_str(a), arg(a, 1, "width", Value(4)), arg(a, 2, "first", Value(false)).truthy(),
                             arg(a, 3, "blank", Value(false)).truthy()));
       }},
      {"int", [](Interpreter&, Args& a) { return to_int(in(a), arg(a, 1, "default", Value(0))); }},
      {"items", [](Interpreter&, Args& a) {
         if (in(a).is_undefined()) return Value(List{});
         if (!in(a).is_dict()) throw TemplateError("items expects a mapping, got " + in(a).type_name());
         Args none;
         return dict_method(in(a), "items").as_function()(none);
       }},
      {"join", [](Interpreter& interp, Args& a) {
         std::string sep = arg(a, 1, "d", Value("")).str();
         Value attr = arg(a, 2, "attribute", Value::none());
         std::string out;
         List items = iterate(in(a));
         for (size_t i = 0; i < items.size(); ++i) {
           out += (i ? sep : "") + (attr.is_none() ? items[i] : attribute_of(items[i], attr)).str();
           interp.check_size(out.size());
         }
         return Value(std::move(out));
       }},
      {"last", [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         return items.empty() ? Value::undefined("last of an empty sequence") : items.back();
       }},
      {"length", [](Interpreter&, Args& a) { return Value(length(in(a))); }},
      {"list", [](Interpreter&, Args& a) { return Value(iterate(in(a))); }},
      {"lower", [](Interpreter&, Args& a) { return Value(lower(in_str(a))); }},
      {"map", [](Interpreter& interp, Args& a) { return map_items(interp, a); }},
      {"max", [](Interpreter&, Args& a) { return min_max(a, true); }},
      {"min", [](Interpreter&, Args& a) { return min_max(a, false); }},
      {"reject", [](Interpreter& interp, Args& a) { return select_items(interp, a, false, false); }},
      {"rejectattr", [](Interpreter& interp, Args& a) { return select_items(interp, a, true, false); }},
      {"replace", [](Interpreter&, Args& a) {
         return Value(replace(in_str(a), arg(a, 1, "old").str(), arg(a, 2, "new").str(),
                              need_int(arg(a, 3, "count", Value(-1)), "replace")));
       }},
      {"reverse", [](Interpreter&, Args& a) {
         List items = iterate(in(a));
         std::reverse(items.begin(), items.end());
         if (!in(a).is_string()) return Value(std::move(items));
         std::string out;
         for (const Value& v : items) out += v.as_string();
         return Value(std::move(out));
       }},
      {"round", [](Interpreter&, Args& a) { return round_filter(a); }},
      {"safe", [](Interpreter&, Args& a) { return in(a); }},
      {"select", [](Interpreter& interp, Args& a) { return select_items(interp, a, false, true); }},
      {"selectattr", [](Interpreter& interp, Args& a) { return select_items(interp, a, true, true); }},
      {"sort", [](Interpreter&, Args& a) { return sort_items(a); }},
      {"string", [](Interpreter&, Args& a) { return Value(in_str(a)); }},
      {"sum", [](Interpreter&, Args& a) {
         Value attr = arg(a, 1, "attribute", Value::none());
         Value total = arg(a, 2, "start", Value(0));
         for (const Value& v : iterate(in(a))) {
           Value x = attr.is_none() ? v : attribute_of(v, attr);
           if (!x.is_number() || !total.is_number()) throw TemplateError("sum expects numbers");
           total = (x.is_float() || total.is_float()) ? Value(total.as_float() + x.as_float()) : Value(total.as_int() + x.as_int());
         }
         return total;
       }},
      {"title", [](Interpreter&, Args& a) { return Value(title(in_str(a))); }},
      {"tojson", [](Interpreter&, Args& a) { return tojson(a); }},
      {"trim", [](Interpreter&, Args& a) { return Value(strip(in_str(a), arg(a, 1, "chars", Value::none()), true, true)); }},
      {"unique", [](Interpreter&, Args& a) { return unique_items(a); }},
      {"upper", [](Interpreter&, Args& a) { return Value(upper(in_str(a))); }},
      {"wordcount", [](Interpreter&, Args& a) { return Value(static_cast<int64_t>(split(in_str(a), Value::none(), -1).size())); }},
  };
  return kFilters;
}

const std::map<std::string, std::string>& filter_aliases() {
  static const std::map<std::string, std::string> kAliases = {{"d", "default"}, {"e", "escape"}, {"forceescape", "escape"}};
  return kAliases;
}

// --- tests ---

using TestFn = bool (*)(Interpreter&, Args&);

const Value& other(const Args& a) {
  if (a.positional.size() < 2) throw TemplateError("this test needs an argument");
  return a.positional[1];
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> kTests = {
      {"defined", [](Interpreter&, Args& a) { return !in(a).is_undefined(); }},
      {"undefined", [](Interpreter&, Args& a) { return in(a).is_undefined(); }},
      {"none", [](Interpreter&, Args& a) { return in(a).is_none(); }},
      {"boolean", [](Interpreter&, Args& a) { return in(a).is_bool(); }},
      {"true", [](Interpreter&, Args& a) { return in(a).is_bool() && in(a).as_bool(); }},
      {"false", [](Interpreter&, Args& a) { return in(a).is_bool() && !in(a).as_bool(); }},
      {"integer", [](Interpreter&, Args& a) { return in(a).is_int(); }},
      {"float", [](Interpreter&, Args& a) { return in(a).is_float(); }},
      {"number", [](Interpreter&, Args& a) { return in(a).is_number(); }},
      {"string", [](Interpreter&, Args& a) { return in(a).is_string(); }},
      {"mapping", [](Interpreter&, Args& a) { return in(a).is_dict(); }},
      {"iterable", [](Interpreter&, Args& a) { return in(a).is_string() || in(a).is_list() || in(a).is_dict() || in(a).is_undefined(); }},
      {"sequence", [](Interpreter&, Args& a) { return in(a).is_string() || in(a).is_list() || in(a).is_dict() || in(a).is_undefined(); }},
      {"callable", [](Interpreter&, Args& a) { return in(a).is_callable(); }},
      {"sameas", [](Interpreter&, Args& a) {
         const Value& x = in(a);
         const Value& y = other(a);
         if (x.kind() != y.kind()) return false;
         if (x.is_none() || x.is_bool() || x.is_undefined()) return equals(x, y);
         return false;  // identity of other objects is not observable here
       }},
      {"eq", [](Interpreter&, Args& a) { return equals(in(a), other(a)); }},
      {"ne", [](Interpreter&, Args& a) { return !equals(in(a), other(a)); }},
      {"lt", [](Interpreter&, Args& a) { return less(in(a), other(a)); }},
      {"le", [](Interpreter&, Args& a) { return !less(other(a), in(a)); }},
      {"gt", [](Interpreter&, Args& a) { return less(other(a), in(a)); }},
      {"ge", [](Interpreter&, Args& a) { return !less(in(a), other(a)); }},
      {"in", [](Interpreter&, Args& a) { return contains(other(a), in(a)); }},
      {"odd", [](Interpreter&, Args& a) { return need_int(in(a), "odd") % 2 != 0; }},
      {"even", [](Interpreter&, Args& a) { return need_int(in(a), "even") % 2 == 0; }},
      {"divisibleby", [](Interpreter&, Args& a) {
         int64_t d = need_int(other(a), "divisibleby");
         if (d == 0) throw TemplateError("divisibleby 0");
         return need_int(in(a), "divisibleby") % d == 0;
       }},
      {"lower", [](Interpreter&, Args& a) { return in(a).is_string() && in(a).as_string() == lower(in(a).as_string()); }},
      {"upper", [](Interpreter&, Args& a) { return in(a).is_string() && in(a).as_string() == upper(in(a).as_string()); }},
      {"filter", [](Interpreter&, Args& a) { return other(a).is_string() && is_known_filter(other(a).as_string()); }},
      {"test", [](Interpreter&, Args& a) { return other(a).is_string() && is_known_test(other(a).as_string()); }},
      {"escaped", [](Interpreter&, Args&) { return false; }},
  };
  return kTests;
}

const std::map<std::string, std::string>& test_aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"equalto", "eq"}, {"==", "eq"}, {"!=", "ne"}, {"lessthan", "lt"}, {"<", "lt"}, {"<=", "le"},
      {"greaterthan", "gt"}, {">", "gt"}, {">=", "ge"}};
  return kAliases;
}

std::string canonical(const std::map<std::string, std::string>& aliases, const std::string& name) {
  auto it = aliases.find(name);
  return it == aliases.end() ? name : it->second;
}

// --- globals ---

Value range(Args& a) {
  int64_t start = 0, stop = 0, step = 1;
  size_t n = a.positional.size();
  if (n == 1) stop = need_int(a.positional[0], "range");
  else if (n == 2 || n == 3) {
    start = need_int(a.positional[0], "range");
    stop = need_int(a.positional[1], "range");
    if (n == 3) step = need_int(a.positional[2], "range");
  } else {
    throw TemplateError("range expects 1 to 3 integer arguments");
  }
  if (step == 0) throw TemplateError("range() arg 3 must not be zero");
  List out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) throw TemplateError("range too big (more than 100000 items)");
    out.push_back(Value(i));
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  return Value(std::move(out));
}

Value keyword_dict(const Args& a) {
  Dict d;
  for (const Value& p : a.positional) {
    if (!p.is_dict()) throw TemplateError("namespace()/dict() take a mapping or keyword arguments");
    d.insert(d.end(), p.as_dict().begin(), p.as_dict().end());
  }
  for (const auto& kv : a.keyword) {
    auto it = std::find_if(d.begin(), d.end(), [&](const auto& e) { return e.first == kv.first; });
    if (it != d.end()) it->second = kv.second;
    else d.push_back(kv);
  }
  return Value(std::move(d));
}

std::string strftime_at(const std::string& fmt, const std::string& today) {
  std::tm tm{};
  if (today.empty()) {
    std::time_t now = std::time(nullptr);
    localtime_r(&now, &tm);
  } else {
    if (std::sscanf(today.c_str(), "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
      throw TemplateError("bad fixed date '" + today + "'");
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    std::mktime(&tm);  // fills the weekday and day of the year
  }
  if (fmt.size() > 1024) throw TemplateError("strftime_now: format too long");
  char buf[4096];
  size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
  return std::string(buf, n);
}

}  // namespace

std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    n = std::min(n, s.size() - i);
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        n = 1;  // invalid UTF-8: one byte at a time
        break;
      }
    }
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string percent_format(const std::string& fmt, const Value& args) { return format_percent(fmt, args); }

bool is_known_filter(const std::string& name) { return filters().count(canonical(filter_aliases(), name)) > 0; }
bool is_known_test(const std::string& name) { return tests().count(canonical(test_aliases(), name)) > 0; }

Value apply_filter(Interpreter& interp, const std::string& name, Args& args) {
  auto it = filters().find(canonical(filter_aliases(), name));
  if (it == filters().end()) throw TemplateError("no filter named '" + name + "'");
  // Filters that take an undefined input as jinja2's Undefined does ("", empty, length 0).
  static const std::set<std::string> kAcceptUndefined = {
      "default", "d", "length", "count", "string", "trim", "list", "items", "join", "first", "last",
      "safe", "lower", "upper", "select", "reject", "map", "selectattr", "rejectattr", "unique", "sort"};
  const Value& input = args.positional.at(0);
  if (input.is_undefined() && !kAcceptUndefined.count(name)) {
    throw TemplateError("'" + input.undefined_name() + "' is undefined");
  }
  return it->second(interp, args);
}

bool apply_test(Interpreter& interp, const std::string& name, Args& args) {
  auto it = tests().find(canonical(test_aliases(), name));
  if (it == tests().end()) throw TemplateError("no test named '" + name + "'");
  return it->second(interp, args);
}

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
    int64_t n = obj.is_list() ? static_cast<int64_t>(obj.as_list().size()) : static_cast<int64_t>(cps.size());
    int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
    if (i < 0 || i >= n) return Value::undefined(obj.type_name() + " index " + std::to_string(key.as_int()));
    if (obj.is_list()) return obj.as_list()[static_cast<size_t>(i)];
    return Value(std::string(cps[static_cast<size_t>(i)]));
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined(key.str());
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v) {
  if (!obj.is_list() && !obj.is_string()) throw TemplateError("'" + obj.type_name() + "' object is not subscriptable");
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
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) out.push_back(items[static_cast<size_t>(i)]);
  if (obj.is_list()) return Value(std::move(out));
  std::string s;
  for (const Value& v : out) s += v.as_string();
  return Value(std::move(s));
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.as_list();
    case Value::Kind::kDict: {
      List keys;
      for (const auto& kv : v.as_dict()) keys.push_back(Value(kv.first));
      return keys;
    }
    case Value::Kind::kString: {
      if (v.as_string().size() > (size_t{4} << 20)) throw TemplateError("string too long to iterate");
      List chars;
      for (std::string_view cp : code_points(v.as_string())) chars.push_back(Value(std::string(cp)));
      return chars;
    }
    default: throw TemplateError("'" + v.type_name() + "' object is not iterable");
  }
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw TemplateError("'in <string>' requires string as left operand, not " + item.type_name());
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.find(item.as_string()) != nullptr;
  if (container.is_list()) {
    return std::any_of(container.as_list().begin(), container.as_list().end(), [&](const Value& v) { return equals(v, item); });
  }
  if (container.is_undefined()) return false;
  throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
}

void add_builtin_globals(std::unordered_map<std::string, Value>& globals, const std::string& today) {
  globals["range"] = Value::callable([](Args& a) { return range(a); });
  globals["namespace"] = Value::callable([](Args& a) { return Value::make_namespace(keyword_dict(a).as_dict()); });
  globals["dict"] = Value::callable([](Args& a) { return keyword_dict(a); });
  globals["raise_exception"] = Value::callable([](Args& a) -> Value {
    throw TemplateError(a.positional.empty() ? std::string() : a.positional[0].str(), true);
  });
  globals["strftime_now"] = Value::callable([today](Args& a) {
    return Value(strftime_at(need_string(arg(a, 0, "format"), "strftime_now"), today));
  });
}

}  // namespace assay::inference::jinja
