#include "inference/jinja/py_str.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <utf8proc.h>

#include "core/utf8.h"
#include "inference/jinja/args.h"

namespace assay::inference::jinja {
namespace {

uint32_t decode(std::string_view cp) {
  size_t pos = 0;
  return static_cast<uint32_t>(utf8::decode(cp, pos));
}
bool is_space_cp(uint32_t c) {
  return utf8::py_isspace(static_cast<char32_t>(c));
}
std::string join_points(const std::vector<std::string_view>& cps, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += cps[i];
  return out;
}

}  // namespace

bool is_py_space(std::string_view cp) {
  return is_space_cp(decode(cp));
}

// str.strip/lstrip/rstrip: `chars` none/undefined means whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<std::string_view> cps = code_points(s);
  std::vector<std::string_view> set;
  bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) set = code_points(need_string(chars, "strip"));
  auto drop = [&](std::string_view cp) {
    return ws ? is_space_cp(decode(cp)) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = cps.size();
  while (left && b < e && drop(cps[b])) ++b;
  while (right && e > b && drop(cps[e - 1])) --e;
  return join_points(cps, b, e);
}
std::string lower(const std::string& s) {
  return utf8::py_lower(s);
}
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
    if (alpha)
      c = static_cast<char>(prev_alpha ? std::tolower(static_cast<unsigned char>(c))
                                       : std::toupper(static_cast<unsigned char>(c)));
    prev_alpha = alpha || (static_cast<unsigned char>(c) >= 0x80 && prev_alpha);
  }
  return out;
}
std::string capitalize(const std::string& s) {
  std::string out = lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}
std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count) {
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
  for (size_t hit; (count < 0 || done < count) && (hit = s.find(from, pos)) != std::string::npos;
       ++done) {
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
      while (i < cps.size() && is_space_cp(decode(cps[i]))) ++i;
      if (i == cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        std::string rest = join_points(cps, i, cps.size());
        out.push_back(Value(strip(rest, Value::none(), false, true)));
        return out;
      }
      size_t j = i;
      while (j < cps.size() && !is_space_cp(decode(cps[j]))) ++j;
      out.push_back(Value(join_points(cps, i, j)));
      i = j;
    }
    return out;
  }
  const std::string& d = need_string(sep, "split");
  if (d.empty()) throw TemplateError("split: empty separator");
  size_t pos = 0;
  for (size_t hit; (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) &&
                   (hit = s.find(d, pos)) != std::string::npos;) {
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
    return prefix ? s.compare(0, a.size(), a) == 0
                  : s.compare(s.size() - a.size(), a.size(), a) == 0;
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
std::string percent_format(const std::string& fmt, const Value& args) {
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
      for (++j;
           j < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[j])) && precision < 100;
           ++j) {
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
    if (conv == 's')
      out += v.str();
    else if (conv == 'r')
      out += v.repr();
    else if ((conv == 'd' || conv == 'i') && v.is_number())
      out += std::to_string(v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int());
    else if (conv == 'f' && v.is_number()) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", precision < 0 ? 6 : precision, v.as_float());
      out += buf;
    } else {
      throw TemplateError(std::string("format: unsupported conversion '%") + conv + "' for " +
                          v.type_name());
    }
  }
  if (next < items.size() && args.is_list())
    throw TemplateError("not all arguments converted during string formatting");
  return out;
}

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

}  // namespace assay::inference::jinja
