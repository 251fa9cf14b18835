// The described records (api/records.h) as Lua tables: status(), heartbeat(), pstree()
// and autoscale.list() push them from the one description, so a field added there shows
// up in the shell without an edit here.
//
// The fields a view shows (records::kView), under their Lua names (the JSON key unless
// the description says otherwise), a none value left out (t.busy is nil while nothing
// says). Integers and counts push as Lua integers, durations as floats; a nested record
// is a table of its own, or joins its parent's when described `flat` (a pool's counters);
// a vector of records is an array, except the pools of a snapshot, keyed by name, and its
// job topics (status().jobs), keyed by topic.
#pragma once

#include <lua.hpp>

#include "api/records.h"
#include "shell/lua/lua_json.h"
#include "shell/lua/view.h"

namespace drover {

template <records::Described T>
void push_record(lua_State* L, const T& rec);

class LuaRecordVisitor {
 public:
  explicit LuaRecordVisitor(lua_State* L) : L_(L) {}

  template <typename T>
  void operator()(const char* key, const T& v, const records::Meta& m = {}) {
    using namespace records;
    if (!(m.in & kView) || is_none(v, m)) return;
    if constexpr (std::is_same_v<T, PoolSpec>) {
      return;  // on the wire only; the views show its name, n and cmd
    } else if constexpr (Described<T>) {
      if (m.flat) return describe(*this, v);
      push_record(L_, v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (m.json_text) push_json(L_, v);
      else push(v, m);
    } else push(v, m);
    lua_setfield(L_, -2, lua_name(key, m));
  }

 private:
  template <typename T>
  void push(const T& v, const records::Meta& m) {
    using namespace records;
    if constexpr (std::is_same_v<T, std::vector<PoolSnapshot>>) {
      lua_createtable(L_, 0, static_cast<int>(v.size()));
      for (const auto& p : v) {
        push_record(L_, p);
        lua_setfield(L_, -2, p.spec.name.c_str());
      }
    } else if constexpr (std::is_same_v<T, std::vector<TopicGauge>>) {
      lua_createtable(L_, 0, static_cast<int>(v.size()));
      for (const auto& t : v) {
        push_record(L_, t);
        lua_setfield(L_, -2, t.topic.c_str());
      }
    } else if constexpr (IsVector<T>::value) {
      lua_createtable(L_, static_cast<int>(v.size()), 0);
      for (size_t i = 0; i < v.size(); ++i) {
        push(v[i], m);
        lua_rawseti(L_, -2, static_cast<lua_Integer>(i + 1));
      }
    } else if constexpr (Described<T>) push_record(L_, v);
    else if constexpr (NamedEnum<T>) lua_pushstring(L_, EnumNames<T>::name(v));
    else if constexpr (requires { v.has_value(); }) push(*v, m);
    else if constexpr (std::is_same_v<T, bool>) lua_pushboolean(L_, v);
    else if constexpr (std::is_integral_v<T>) lua_pushinteger(L_, static_cast<lua_Integer>(v));
    else if constexpr (std::is_floating_point_v<T>) {
      if (m.quantity) push_quantity(L_, v);
      else lua_pushnumber(L_, v);
    } else lua_pushlstring(L_, v.data(), v.size());  // std::string
  }

  lua_State* L_;
};

// Sets rec's fields on the table on top of the stack.
template <records::Described T>
void set_record_fields(lua_State* L, const T& rec) {
  LuaRecordVisitor v(L);
  records::describe(v, rec);
}

// Pushes a new table with rec's fields.
template <records::Described T>
void push_record(lua_State* L, const T& rec) {
  lua_createtable(L, 0, 16);
  set_record_fields(L, rec);
}

}  // namespace drover
