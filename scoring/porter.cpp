#include "scoring/porter.h"

#include <functional>
#include <initializer_list>
#include <string_view>
#include <unordered_map>

namespace assay::scoring {
namespace {

using Cond = std::function<bool(const std::string&)>;

struct Rule {
  std::string_view suffix;  // "*d" means "ends in a double consonant"
  std::string replacement;
  Cond condition;  // empty: always
};

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// NLTK _is_consonant without recursion: along a run of 'y's consonant-ness alternates, starting
// from "consonant" at index 0 or after a vowel.
bool is_consonant(std::string_view w, size_t i) {
  if (is_vowel(w[i])) return false;
  if (w[i] != 'y') return true;
  size_t k = i;
  while (k > 0 && w[k - 1] == 'y') --k;
  bool first = (k == 0) ? true : is_vowel(w[k - 1]);
  return ((i - k) % 2 == 0) ? first : !first;
}

// Linear pass over the consonant/vowel pattern (a per-position is_consonant() would be
// quadratic on long runs of 'y').
int measure(std::string_view stem) {
  int m = 0;
  bool prev_cons = true;  // what a 'y' at index 0 sees: it is a consonant
  bool prev_vowel = false;
  for (size_t i = 0; i < stem.size(); ++i) {
    bool cons = is_vowel(stem[i]) ? false : (stem[i] == 'y' ? (i == 0 ? true : !prev_cons) : true);
    if (cons && prev_vowel) ++m;
    prev_vowel = !cons;
    prev_cons = cons;
  }
  return m;
}

bool contains_vowel(std::string_view stem) {
  bool prev_cons = true;
  for (size_t i = 0; i < stem.size(); ++i) {
    bool cons = is_vowel(stem[i]) ? false : (stem[i] == 'y' ? (i == 0 ? true : !prev_cons) : true);
    if (!cons) return true;
    prev_cons = cons;
  }
  return false;
}

bool ends_double_consonant(std::string_view w) {
  return w.size() >= 2 && w[w.size() - 1] == w[w.size() - 2] && is_consonant(w, w.size() - 1);
}

bool ends_cvc(std::string_view w) {
  const size_t n = w.size();
  if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
      w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y') {
    return true;
  }
  return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

bool ends_with(std::string_view w, std::string_view s) {
  return w.size() >= s.size() && w.substr(w.size() - s.size()) == s;
}

bool positive_measure(const std::string& stem) {
  return measure(stem) > 0;
}

// NLTK _apply_rule_list: the first rule whose suffix matches decides (condition true: replace,
// false: keep the word).
std::string apply_rules(const std::string& word, std::initializer_list<Rule> rules) {
  for (const Rule& rule : rules) {
    if (rule.suffix == "*d" && ends_double_consonant(word)) {
      std::string stem = word.substr(0, word.size() - 2);
      if (!rule.condition || rule.condition(stem)) return stem + rule.replacement;
      return word;
    }
    if (ends_with(word, rule.suffix)) {
      std::string stem = word.substr(0, word.size() - rule.suffix.size());
      if (!rule.condition || rule.condition(stem)) return stem + rule.replacement;
      return word;
    }
  }
  return word;
}

std::string step1a(const std::string& w) {
  if (ends_with(w, "ies") && w.size() == 4) return w.substr(0, 1) + "ie";
  return apply_rules(w, {{"sses", "ss", {}}, {"ies", "i", {}}, {"ss", "ss", {}}, {"s", "", {}}});
}

std::string step1b(const std::string& w) {
  if (ends_with(w, "ied")) {
    return w.size() == 4 ? w.substr(0, 1) + "ie" : w.substr(0, w.size() - 3) + "i";
  }
  if (ends_with(w, "eed")) {
    std::string stem = w.substr(0, w.size() - 3);
    return measure(stem) > 0 ? stem + "ee" : w;
  }
  std::string inter;
  bool ok = false;
  for (std::string_view suffix : {std::string_view("ed"), std::string_view("ing")}) {
    if (ends_with(w, suffix)) {
      inter = w.substr(0, w.size() - suffix.size());
      if (contains_vowel(inter)) {
        ok = true;
        break;
      }
    }
  }
  if (!ok) return w;
  const char last = inter.back();
  return apply_rules(
      inter, {{"at", "ate", {}},
              {"bl", "ble", {}},
              {"iz", "ize", {}},
              {"*d", std::string(1, last),
               [last](const std::string&) { return last != 'l' && last != 's' && last != 'z'; }},
              {"", "e", [](const std::string& s) { return measure(s) == 1 && ends_cvc(s); }}});
}

std::string step1c(const std::string& w) {
  return apply_rules(w, {{"y", "i", [](const std::string& s) {
                            return s.size() > 1 && is_consonant(s, s.size() - 1);
                          }}});
}

std::string step2(const std::string& w) {
  if (ends_with(w, "alli") && positive_measure(w.substr(0, w.size() - 4))) {
    return step2(w.substr(0, w.size() - 4) + "al");
  }
  const Cond pm = positive_measure;
  const std::string word = w;
  return apply_rules(w, {{"ational", "ate", pm},
                         {"tional", "tion", pm},
                         {"enci", "ence", pm},
                         {"anci", "ance", pm},
                         {"izer", "ize", pm},
                         {"bli", "ble", pm},
                         {"alli", "al", pm},
                         {"entli", "ent", pm},
                         {"eli", "e", pm},
                         {"ousli", "ous", pm},
                         {"ization", "ize", pm},
                         {"ation", "ate", pm},
                         {"ator", "ate", pm},
                         {"alism", "al", pm},
                         {"iveness", "ive", pm},
                         {"fulness", "ful", pm},
                         {"ousness", "ous", pm},
                         {"aliti", "al", pm},
                         {"iviti", "ive", pm},
                         {"biliti", "ble", pm},
                         {"fulli", "ful", pm},
                         {"logi", "log", [&word](const std::string&) {
                            return positive_measure(word.substr(0, word.size() - 3));
                          }}});
}

std::string step3(const std::string& w) {
  const Cond pm = positive_measure;
  return apply_rules(w, {{"icate", "ic", pm},
                         {"ative", "", pm},
                         {"alize", "al", pm},
                         {"iciti", "ic", pm},
                         {"ical", "ic", pm},
                         {"ful", "", pm},
                         {"ness", "", pm}});
}

std::string step4(const std::string& w) {
  const Cond m1 = [](const std::string& s) { return measure(s) > 1; };
  return apply_rules(w, {{"al", "", m1},
                         {"ance", "", m1},
                         {"ence", "", m1},
                         {"er", "", m1},
                         {"ic", "", m1},
                         {"able", "", m1},
                         {"ible", "", m1},
                         {"ant", "", m1},
                         {"ement", "", m1},
                         {"ment", "", m1},
                         {"ent", "", m1},
                         {"ion", "",
                          [](const std::string& s) {
                            return measure(s) > 1 && (s.back() == 's' || s.back() == 't');
                          }},
                         {"ou", "", m1},
                         {"ism", "", m1},
                         {"ate", "", m1},
                         {"iti", "", m1},
                         {"ous", "", m1},
                         {"ive", "", m1},
                         {"ize", "", m1}});
}

std::string step5a(const std::string& w) {
  if (ends_with(w, "e")) {
    std::string stem = w.substr(0, w.size() - 1);
    int m = measure(stem);
    if (m > 1) return stem;
    if (m == 1 && !ends_cvc(stem)) return stem;
  }
  return w;
}

std::string step5b(const std::string& w) {
  return apply_rules(w, {{"ll", "l", [&w](const std::string&) {
                            return measure(std::string_view(w).substr(0, w.size() - 1)) > 1;
                          }}});
}

const std::unordered_map<std::string_view, std::string_view>& irregular_pool() {
  static const std::unordered_map<std::string_view, std::string_view> pool = {
      {"sky", "sky"},         {"skies", "sky"},        {"dying", "die"},
      {"lying", "lie"},       {"tying", "tie"},        {"news", "news"},
      {"innings", "inning"},  {"inning", "inning"},    {"outings", "outing"},
      {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
      {"howe", "howe"},       {"proceed", "proceed"},  {"exceed", "exceed"},
      {"succeed", "succeed"},
  };
  return pool;
}

}  // namespace

std::string porter_stem(std::string_view word) {
  std::string stem(word);
  for (char& c : stem) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  auto it = irregular_pool().find(word);
  if (it != irregular_pool().end()) return std::string(it->second);
  if (word.size() <= 2) return stem;
  stem = step1a(stem);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = step3(stem);
  stem = step4(stem);
  stem = step5a(stem);
  stem = step5b(stem);
  return stem;
}

}  // namespace assay::scoring
