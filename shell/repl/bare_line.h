// What a line typed the way resque-pool-dynamic's users type it means: `status`,
// `pstree`, `log.tail`, `help config`, `exit`. In Lua a bare name is not a statement
// (`status` alone would print a function value), so the shell reads such a line as the
// command it names, and prints a hint instead where a call would be a guess.
//
// Only a line that is one name (a.b.c) or `help NAME` is looked at; anything else is Lua
// and runs as typed. A bare name is called when it holds a function and its first part
// is a shell command (it has a help page: help/*.md is the list) whose signature takes
// no required argument. A command that needs arguments (`every`, `kill`, `load`) gets its
// signature as the hint; a command table (`log`) gets its page's summary. A user's own
// variables and functions are left alone: Lua shows their value, as always.
#pragma once

#include <string>

struct lua_State;

namespace drover {

struct BareLine {
  enum class Kind {
    kAsTyped,  // run the line as it is
    kCall,     // run `code` instead
    kHint,     // print `code` (a hint, ends with a newline) and run nothing
  };
  Kind kind = Kind::kAsTyped;
  std::string code;
};

// Reads globals of L (the shell's state; the caller holds the Lua lock) to decide.
BareLine interpret_bare_line(lua_State* L, const std::string& line);

}  // namespace drover
