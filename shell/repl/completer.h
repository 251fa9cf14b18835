// Completer: what may come next at the cursor, from the Lua state's globals (which
// include every binding), fields of tables after '.' or ':', Lua keywords, and pool
// names inside a string argument (`stop "ba<TAB>`). Knows nothing of readline.
#pragma once

#include <lua.hpp>

#include <functional>
#include <string>
#include <vector>

namespace drover {

class Completer {
 public:
  using Names = std::function<std::vector<std::string>()>;

  // pool_names is asked only when completing inside a string.
  Completer(lua_State* L, Names pool_names) : L_(L), pool_names_(std::move(pool_names)) {}

  // Full replacement words for the word that ends at the end of before_cursor, sorted.
  // The word starts after the last break character (space, quote, paren, ...).
  std::vector<std::string> complete(const std::string& before_cursor) const;

 private:
  std::vector<std::string> table_keys(const std::string& path, bool methods_only) const;
  lua_State* L_;
  Names pool_names_;
};

}  // namespace drover
