// edit_similarity: 1 − Levenshtein distance over Unicode code points ÷ the longer length in code
// points (both empty: 1). Insertions, deletions and substitutions cost 1. Invalid UTF-8 bytes are
// U+FFFD each. Pairs whose distance table would exceed kMaxCells cells (after the common prefix
// and suffix are set aside) are not computed: NaN, like ROUGE-L's limit.
#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/utf8.h"
#include "scoring/metric_registry.h"

namespace assay::scoring {
namespace {

constexpr std::size_t kMaxCells = std::size_t{1} << 26;

double edit_similarity(std::string_view prediction, std::string_view reference) {
  const std::u32string a = utf8::to_u32(prediction), b = utf8::to_u32(reference);
  const std::size_t longer = std::max(a.size(), b.size());
  if (longer == 0) return 1.0;
  // The common prefix and suffix cost nothing; the table covers the middles only.
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  std::size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  std::u32string_view x(a.data() + head, a.size() - head - tail);
  std::u32string_view y(b.data() + head, b.size() - head - tail);
  if (x.size() < y.size()) std::swap(x, y);  // y is the shorter: one row of |y| + 1
  if (x.size() * (y.size() + 1) > kMaxCells) return std::numeric_limits<double>::quiet_NaN();
  std::vector<std::size_t> row(y.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= x.size(); ++i) {
    std::size_t diagonal = row[0];  // row[i-1][0]
    row[0] = i;
    for (std::size_t j = 1; j <= y.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({up + 1, row[j - 1] + 1, diagonal + (x[i - 1] == y[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return 1.0 - static_cast<double>(row[y.size()]) / static_cast<double>(longer);
}

}  // namespace

MetricFamily edit_similarity_family() {
  return one_column_family<edit_similarity>("edit_similarity");
}

}  // namespace assay::scoring
