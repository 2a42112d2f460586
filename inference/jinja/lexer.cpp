#include "inference/jinja/lexer.h"

#include <algorithm>
#include <cctype>

namespace assay::inference::jinja {
namespace {

// jinja2 splits the source with str.splitlines() and joins the lines with "\n": every line
// break Python knows becomes "\n", and one at the very end goes (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(src[i]);
    if (c == '\r') {
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      out += '\n';
    } else if (c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) {
      out += '\n';
    } else if (c == 0xC2 && i + 1 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x85) {
      out += '\n';
      ++i;
    } else if (c == 0xE2 && i + 2 < src.size() && static_cast<unsigned char>(src[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(src[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(src[i + 2]) == 0xA9)) {
      out += '\n';
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : source_(normalize_newlines(src)), src_(source_) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t open = next_tag(pos_);
      std::string text(src_.substr(pos_, open - pos_));
      if (strip_next_)
        text.erase(0, std::find_if_not(text.begin(), text.end(), is_space) - text.begin());
      strip_next_ = false;
      if (open == src_.size()) {
        emit_text(std::move(text), pos_);
        break;
      }
      char kind = src_[open + 1];
      char mod = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (mod == '-') {
        text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
      } else if (mod != '+' && kind != '{') {
        lstrip_line(text, pos_);
      }
      emit_text(std::move(text), pos_);
      size_t body = open + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        comment(open, body);
      } else if (kind == '%' && is_raw(body)) {
        raw(open, body);
      } else {
        tag(open, body, kind == '{');
      }
    }
    tokens_.push_back({Token::Kind::kEof, "", line_of(src_.size()), col_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t next_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return src_.size();
  }
  // lstrip_blocks: spaces and tabs between the line's start and a block or comment tag go.
  void lstrip_line(std::string& text, size_t text_start) const {
    size_t nl = text.rfind('\n');
    size_t from = nl == std::string::npos ? 0 : nl + 1;
    bool line_start = nl != std::string::npos || text_start == 0 || src_[text_start - 1] == '\n';
    if (!line_start) return;
    if (text.find_first_not_of(" \t", from) == std::string::npos) text.erase(from);
  }
  // After a tag's end: '-' strips all following whitespace; trim_blocks drops one newline.
  void after_tag(size_t end, bool minus, bool block) {
    pos_ = end;
    if (minus)
      strip_next_ = true;
    else if (block && pos_ < src_.size() && src_[pos_] == '\n')
      ++pos_;
  }
  void comment(size_t open, size_t body) {
    size_t close = src_.find("#}", body);
    if (close == std::string_view::npos) fail("unterminated comment", open);
    after_tag(close + 2, close > body && src_[close - 1] == '-', true);
  }
  bool is_raw(size_t body) const {
    size_t p = skip_spaces(body);
    return src_.compare(p, 3, "raw") == 0 && p + 3 < src_.size() &&
           !std::isalnum(static_cast<unsigned char>(src_[p + 3])) && src_[p + 3] != '_';
  }
  size_t skip_spaces(size_t p) const {
    while (p < src_.size() && is_space(src_[p])) ++p;
    return p;
  }
  void raw(size_t open, size_t body) {
    size_t start_end = src_.find("%}", body);
    if (start_end == std::string_view::npos) fail("unterminated {% raw %}", open);
    bool minus = src_[start_end - 1] == '-';
    size_t content = start_end + 2;
    if (minus)
      content = skip_spaces(content);
    else if (content < src_.size() && src_[content] == '\n')
      ++content;
    for (size_t p = src_.find("{%", content); p != std::string_view::npos;
         p = src_.find("{%", p + 2)) {
      size_t q =
          skip_spaces(p + 2 + (p + 2 < src_.size() && (src_[p + 2] == '-' || src_[p + 2] == '+')));
      if (src_.compare(q, 6, "endraw") != 0) continue;
      size_t close = src_.find("%}", q);
      if (close == std::string_view::npos) break;
      std::string text(src_.substr(content, p - content));
      if (src_[p + 2] == '-')
        text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
      emit_text(std::move(text), content);
      after_tag(close + 2, src_[close - 1] == '-', true);
      return;
    }
    fail("{% raw %} without {% endraw %}", open);
  }
  void tag(size_t open, size_t body, bool var) {
    push(var ? Token::Kind::kVarBegin : Token::Kind::kBlockBegin, var ? "{{" : "{%", open);
    const char* end = var ? "}}" : "%}";
    size_t p = body;
    int depth = 0;
    for (;;) {
      p = skip_spaces(p);
      if (p >= src_.size()) fail(std::string("unterminated tag: missing '") + end + "'", open);
      bool minus = src_[p] == '-' && src_.compare(p + 1, 2, end) == 0;
      if (depth == 0 && (minus || src_.compare(p, 2, end) == 0)) {
        push(var ? Token::Kind::kVarEnd : Token::Kind::kBlockEnd, end, p);
        after_tag(p + 2 + minus, minus, !var);
        return;
      }
      p = expression_token(p, depth);
    }
  }
  size_t expression_token(size_t p, int& depth) {
    unsigned char c = static_cast<unsigned char>(src_[p]);
    if (std::isalpha(c) || c == '_') {
      size_t e = p;
      while (e < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
        ++e;
      push(Token::Kind::kName, std::string(src_.substr(p, e - p)), p);
      return e;
    }
    if (std::isdigit(c)) return number(p);
    if (c == '\'' || c == '"') return string_literal(p);
    static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                       "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                       "]",  "{",  "}",  ".",  ",",  ":",  "|"};
    for (const char* op : kOps) {
      size_t n = std::char_traits<char>::length(op);
      if (src_.compare(p, n, op) != 0) continue;
      if (n == 1 && (op[0] == '(' || op[0] == '[' || op[0] == '{')) ++depth;
      if (n == 1 && (op[0] == ')' || op[0] == ']' || op[0] == '}') && depth > 0) --depth;
      push(Token::Kind::kOp, op, p);
      return p + n;
    }
    fail(std::string("unexpected character '") + src_[p] + "'", p);
  }
  size_t digits(size_t p) const {
    while (p < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[p])) ||
                               (src_[p] == '_' && p + 1 < src_.size() &&
                                std::isdigit(static_cast<unsigned char>(src_[p + 1]))))) {
      ++p;
    }
    return p;
  }
  size_t number(size_t p) {
    size_t e = digits(p);
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      e = digits(e + 1);
      is_float = true;
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t x = e + 1;
      if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
      if (x < src_.size() && std::isdigit(static_cast<unsigned char>(src_[x]))) {
        e = digits(x);
        is_float = true;
      }
    }
    std::string text;
    for (char ch : src_.substr(p, e - p)) {
      if (ch != '_') text += ch;
    }
    push(is_float ? Token::Kind::kFloat : Token::Kind::kInt, text, p);
    return e;
  }
  size_t string_literal(size_t p) {
    char quote = src_[p];
    std::string value;
    size_t i = p + 1;
    for (; i < src_.size() && src_[i] != quote; ++i) {
      if (src_[i] != '\\' || i + 1 >= src_.size()) {
        value += src_[i];
        continue;
      }
      i = escape(i, value);
    }
    if (i >= src_.size()) fail("unterminated string literal", p);
    push(Token::Kind::kString, std::move(value), p);
    return i + 1;
  }
  // Python's escapes; an unknown one keeps its backslash. Returns the last index consumed.
  size_t escape(size_t i, std::string& out) {
    char e = src_[i + 1];
    switch (e) {
      case 'n':
        out += '\n';
        return i + 1;
      case 't':
        out += '\t';
        return i + 1;
      case 'r':
        out += '\r';
        return i + 1;
      case '0':
        out += '\0';
        return i + 1;
      case 'a':
        out += '\a';
        return i + 1;
      case 'b':
        out += '\b';
        return i + 1;
      case 'f':
        out += '\f';
        return i + 1;
      case 'v':
        out += '\v';
        return i + 1;
      case '\\':
      case '\'':
      case '"':
        out += e;
        return i + 1;
      case '\n':
        return i + 1;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + 2 + n > src_.size()) fail("truncated \\" + std::string(1, e) + " escape", i);
        uint32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          char h = src_[i + 2 + k];
          if (!std::isxdigit(static_cast<unsigned char>(h)))
            fail("bad \\" + std::string(1, e) + " escape", i);
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                   ? h - '0'
                                                   : (std::tolower(h) - 'a' + 10));
        }
        if (cp > 0x10FFFF) fail("escape beyond U+10FFFF", i);
        append_utf8(cp, out);
        return i + 1 + n;
      }
      default:
        out += '\\';
        out += e;
        return i + 1;
    }
  }
  static void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  void emit_text(std::string text, size_t at) {
    if (!text.empty()) push(Token::Kind::kText, std::move(text), at);
  }
  void push(Token::Kind kind, std::string text, size_t at) {
    tokens_.push_back({kind, std::move(text), line_of(at), col_of(at)});
  }
  int line_of(size_t at) const {
    return static_cast<int>(std::upper_bound(line_starts_.begin(), line_starts_.end(), at) -
                            line_starts_.begin());
  }
  int col_of(size_t at) const { return static_cast<int>(at - line_starts_[line_of(at) - 1]) + 1; }
  [[noreturn]] void fail(const std::string& message, size_t at) const {
    throw SyntaxError{message, line_of(at), col_of(at)};
  }

  std::string source_;  // the template with its line breaks normalized
  std::string_view src_;
  size_t pos_ = 0;
  bool strip_next_ = false;
  std::vector<Token> tokens_;
  std::vector<size_t> line_starts_;  // offset of each line's first byte
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

}  // namespace assay::inference::jinja
