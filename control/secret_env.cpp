#include "control/secret_env.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace drover {

namespace {

constexpr std::array<std::string_view, 13> kSecretWords = {
    "PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL",
    "CREDENTIALS", "PRIVATE", "AUTH", "COOKIE", "SALT", "DSN"};
// Words that are secrets with something glued before them: DBPASSWORD, GITHUBTOKEN, APIKEY.
constexpr std::array<std::string_view, 5> kSecretSuffixes = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

bool is_secret_env_name(const std::string& name) {
  const std::string n = upper(name);
  size_t start = 0;
  while (start <= n.size()) {
    size_t end = n.find_first_of("_-.", start);
    if (end == std::string::npos) end = n.size();
    const std::string_view word(n.data() + start, end - start);
    for (std::string_view secret : kSecretWords)
      if (word == secret) return true;
    for (std::string_view suffix : kSecretSuffixes)
      if (word.ends_with(suffix)) return true;
    start = end + 1;
  }
  return false;
}

std::string shown_env_value(const std::string& name, const std::string& value) {
  if (is_secret_env_name(name)) return value.empty() ? value : kRedacted;
  // scheme://user:password@host...: the password alone goes.
  const size_t scheme = value.find("://");
  if (scheme == std::string::npos) return value;
  const size_t authority = scheme + 3;
  const size_t end = value.find_first_of("/?#", authority);
  const size_t at = value.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < authority) return value;
  const size_t colon = value.find(':', authority);
  if (colon == std::string::npos || colon > at) return value;
  return value.substr(0, colon + 1) + kRedacted + value.substr(at);
}

void redact_secrets(EngineSnapshot& snap) {
  for (auto& pool : snap.pools)
    for (auto& [name, value] : pool.spec.env) value = shown_env_value(name, value);
}

}  // namespace drover
