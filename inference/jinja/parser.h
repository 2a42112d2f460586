// Parses a chat template into its syntax tree. Everything outside the supported subset (an
// unknown tag such as {% include %}, an unknown filter or test) is refused here, at load time,
// with its line and column, rather than mid-run.
#pragma once

#include <string_view>

#include "inference/jinja/ast.h"
#include "inference/jinja/lexer.h"

namespace assay::inference::jinja {

// Throws SyntaxError (lexer.h) naming the construct at fault. Nesting deeper than 200 levels is
// refused (a guard for hostile templates).
Body parse(std::string_view source);

// Whether the interpreter knows a filter / test of this name (builtins.cpp).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace assay::inference::jinja
