#include "config/wpm_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover {

namespace {

using nlohmann::json;

// Parsing runs with exceptions off (json::parse(text, nullptr, false)), which says only
// "discarded". To say where, the text is run once more through a SAX handler that ignores
// every value and keeps the first parse error: where the parser gave up, and nlohmann's
// reason.
class ErrorLocator : public nlohmann::json_sax<json> {
 public:
  size_t offset = 0;  // 0-based byte offset of the last character read (at the end: the size)
  std::string reason;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    // position counts the characters read, the one that did not fit included. (The token
    // text passed along is no guide: it may hold what came before the token.)
    offset = position > 0 ? position - 1 : 0;
    // "[json.exception.parse_error.101] parse error at line 4, column 3: syntax error ...":
    // keep what follows the position, which is ours to print.
    reason = ex.what();
    if (size_t at = reason.find(": ", reason.find("parse error")); at != std::string::npos) reason.erase(0, at + 2);
    return false;
  }
};

// "file:LINE:COL: reason (byte offset N)" for text that json::parse discarded; LINE and
// COL are 1-based, the offset 0-based, all at the character where parsing stopped (the
// last of the offending token).
Status syntax_error(const std::string& path, const std::string& text) {
  ErrorLocator where;
  json::sax_parse(text, &where);
  const size_t at = std::min(where.offset, text.size());
  const auto before = text.begin() + static_cast<std::ptrdiff_t>(at);
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), before, '\n'));
  const size_t line_start = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
  const size_t column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  return Status::invalid(fmt::format("{}:{}:{}: {} (byte offset {})", path, line, column,
                                     where.reason.empty() ? "not valid JSON" : where.reason, at));
}

// nlohmann keeps the last of a key given twice in one object, silently. This pass finds
// the first such key and names it by its path ("autotasks.web"); the SAX interface gives
// no position for a key.
class DuplicateKeys : public nlohmann::json_sax<json> {
 public:
  std::string duplicate;  // the path of the first key seen twice; empty: none

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    levels_.push_back({name(), {}, {}, true});
    return true;
  }
  bool key(string_t& k) override {
    Level& l = levels_.back();
    if (!l.keys.insert(k).second) {
      duplicate = l.path.empty() ? k : l.path + "." + k;
      return false;
    }
    l.current = k;
    return true;
  }
  bool end_object() override { return end(); }
  bool start_array(std::size_t) override {
    levels_.push_back({name(), {}, {}, false});
    return true;
  }
  bool end_array() override { return end(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Level {
    std::string path;
    std::set<std::string> keys;
    std::string current;  // the key whose value comes next (objects)
    bool object;
  };
  // The path of the value about to start.
  std::string name() const {
    if (levels_.empty()) return "";
    const Level& l = levels_.back();
    const std::string part = l.object ? l.current : "[]";
    return l.path.empty() ? part : l.path + (l.object ? "." : "") + part;
  }
  bool value() { return true; }
  bool end() {
    levels_.pop_back();
    return true;
  }
  std::vector<Level> levels_;
};

struct Reader {
  std::string file;

  Status error(const std::string& where, const std::string& what) const {
    return Status::invalid(fmt::format("{}: {}: {}", file, where, what));
  }
  // A non-negative integer (milliseconds, ports, counts) at key of obj, or fallback.
  Result<int64_t> integer(const json& obj, const char* key, const std::string& where, int64_t fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return error(where.empty() ? key : where + "." + key,
                   fmt::format("must be a whole number >= 0, got {}", it->dump()));
    return it->get<int64_t>();
  }
  Result<std::string> string(const json& obj, const char* key, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::string();
    if (!it->is_string()) return error(where + "." + key, fmt::format("must be a string, got {}", it->dump()));
    return it->get<std::string>();
  }
};

bool executable(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<WpmConfig> load_wpm_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return syntax_error(path, body);
  DuplicateKeys dup;
  json::sax_parse(body, &dup);
  if (!dup.duplicate.empty())
    return Status::invalid(fmt::format("{}: duplicate key \"{}\"; keep one", path, dup.duplicate));
  Reader r{path};
  if (!doc.is_object()) return r.error("top level", "must be an object");

  WpmConfig cfg;
  // Without "port" workerpoolmanager listened on ":0", a port nobody could know: no HTTP.
  if (doc.contains("port") && !doc["port"].is_null()) {
    auto port = r.integer(doc, "port", "", 0);
    if (!port) return port.error();
    if (*port > 65535) return r.error("port", "must be a port (0..65535)");
    cfg.http_port = static_cast<int>(*port);
  }
  auto pidfile = r.string(doc, "pidfile", "pidfile");
  if (!pidfile) return pidfile.error();
  cfg.pidfile = *pidfile;

  json keepalives = doc.value("keepalives", json::object());
  if (!keepalives.is_object()) return r.error("keepalives", "must be an object");
  auto host = r.string(keepalives, "host", "keepalives");
  if (!host) return host.error();
  auto inbound = r.integer(keepalives, "inbound_port", "keepalives", 5591);
  if (!inbound) return inbound.error();
  if (*inbound < 1 || *inbound > 65535) return r.error("keepalives.inbound_port", "must be a port (1..65535)");
  // 0 means "the default" there, as an absent key does.
  auto stall_ms = r.integer(keepalives, "stall_timeout", "keepalives", 0);
  if (!stall_ms) return stall_ms.error();
  if (*stall_ms == 0) *stall_ms = 60000;
  auto grace_ms = r.integer(keepalives, "grace_period", "keepalives", 0);
  if (!grace_ms) return grace_ms.error();
  if (*grace_ms == 0) *grace_ms = 100;
  // ZeroMQ binds an address or an interface name, never a DNS name: localhost is spelled
  // out, anything else goes as it is and a bad one fails at bind, naming the endpoint.
  std::string bind_host = host->empty() || *host == "localhost" ? "127.0.0.1" : *host;
  cfg.heartbeat_endpoint = fmt::format("tcp://{}:{}", bind_host, *inbound);

  auto dir = r.string(doc, "path", "path");
  if (!dir) return dir.error();
  if (dir->empty()) return r.error("path", "is required: the directory holding the task files");
  auto suffix = r.string(doc, "filesuffix", "filesuffix");
  if (!suffix) return suffix.error();
  namespace fs = std::filesystem;
  fs::path task_dir = *dir;
  if (task_dir.is_relative()) task_dir = fs::absolute(fs::path(path)).parent_path() / task_dir;
  task_dir = task_dir.lexically_normal();
  std::error_code ec;
  if (!fs::is_directory(task_dir, ec)) return r.error("path", fmt::format("{} is not a directory", task_dir.string()));

  // Discovery: name -> the task's file.
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(task_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || name.size() <= suffix->size()) continue;
    if (name.compare(name.size() - suffix->size(), suffix->size(), *suffix) != 0) continue;
    files[name.substr(0, name.size() - suffix->size())] = entry.path().string();
  }
  if (ec) return r.error("path", fmt::format("cannot list {}: {}", task_dir.string(), ec.message()));

  auto make_pool = [&](const std::string& name, const std::string& file) {
    PoolSpec p;
    p.name = name;
    p.argv = {file};
    p.n = 1;
    p.autostart = false;
    p.heartbeat = {.timeout_s = static_cast<double>(*stall_ms) / 1000.0, .require = true};
    p.grace_s = static_cast<double>(*grace_ms) / 1000.0;
    return p;
  };
  std::map<std::string, PoolSpec> pools;
  for (const auto& [name, file] : files) pools.emplace(name, make_pool(name, file));

  json autotasks = doc.value("autotasks", json::object());
  if (!autotasks.is_object()) return r.error("autotasks", "must be an object of task name -> settings");
  for (const auto& [name, task] : autotasks.items()) {
    const std::string where = "autotasks." + name;
    auto it = pools.find(name);
    if (it == pools.end())
      return r.error(where, fmt::format("cannot find task {}: no {}{} in {}", name, name, *suffix, task_dir.string()));
    if (!task.is_object()) return r.error(where, "must be an object");
    PoolSpec& p = it->second;
    p.autostart = true;
    auto n = r.integer(task, "cardinality", where, 0);
    if (!n) return n.error();
    if (*n > kDefaultMaxWorkers)
      return r.error(where + ".cardinality", fmt::format("{} is out of range 0..{}", *n, kDefaultMaxWorkers));
    if (*n > 0) p.n = static_cast<int>(*n);
    auto cmd = r.string(task, "cmd", where);
    if (!cmd) return cmd.error();
    if (!cmd->empty()) p.argv = {*cmd};
    if (auto args = task.find("args"); args != task.end() && !args->is_null()) {
      if (!args->is_array()) return r.error(where + ".args", "must be a list of strings");
      std::vector<std::string> list;
      for (const auto& a : *args) {
        if (!a.is_string()) return r.error(where + ".args", fmt::format("must be strings, got {}", a.dump()));
        list.push_back(a.get<std::string>());
      }
      if (!list.empty()) p.argv.resize(1), p.argv.insert(p.argv.end(), list.begin(), list.end());
    }
    auto stall = r.integer(task, "stall_timeout", where, 0);
    if (!stall) return stall.error();
    if (*stall > 0) p.heartbeat.timeout_s = static_cast<double>(*stall) / 1000.0;
    auto grace = r.integer(task, "grace_period", where, 0);
    if (!grace) return grace.error();
    if (*grace > 0) p.grace_s = static_cast<double>(*grace) / 1000.0;
    // Only the tasks that start are held to this. A stopped task's file may be a library
    // the others include (a BaseTask.php): workerpoolmanager never runs it, nor do we
    // until `start`, which then fails on exec and says so.
    if (cmd->empty() && !executable(p.argv[0]))
      return r.error(where, fmt::format("task file {} is not executable (chmod +x it, or give a cmd)", p.argv[0]));
  }
  for (auto& [name, p] : pools) {
    if (Status s = validate_pool_spec(p); !s) return Status::invalid(fmt::format("{}: task {}: {}", path, name, s.message()));
    cfg.pools.push_back(std::move(p));
  }
  if (cfg.pools.empty())
    return r.error("path", fmt::format("no task files ending in \"{}\" in {}", *suffix, task_dir.string()));
  return cfg;
}

}  // namespace drover
