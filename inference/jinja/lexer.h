// Splits a Jinja template into tokens: text (with whitespace control, trim_blocks and
// lstrip_blocks already applied, as transformers configures jinja2), the delimiters of {{ }} and
// {% %}, and the names, literals and operators inside them. Comments are dropped; {% raw %}
// blocks become text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace assay::inference::jinja {

struct Token {
  enum class Kind {
    kText,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof
  };
  Kind kind;
  std::string text;  // the text, name, operator, or a string literal's unescaped value
  int line = 1;      // 1-based position of the token in the template
  int col = 1;
};

// Throws SyntaxError (parser.h) for an unterminated tag, comment or string, or a character that
// starts no token.
std::vector<Token> tokenize(std::string_view source);

// A template the parser refuses: message plus the 1-based line and column.
struct SyntaxError {
  std::string message;
  int line;
  int col;
};

}  // namespace assay::inference::jinja
