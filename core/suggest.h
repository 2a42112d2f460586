// "Did you mean ...?" for unknown names (config keys, metric names, subcommands).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace assay {

// Levenshtein edit distance between two byte strings.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, len/3)).
std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" when nothing is close.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace assay
