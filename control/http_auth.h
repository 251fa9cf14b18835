// The HTTP control plane's one secret: a bearer token, needed by its TCP listener on any
// address, loopback included (issue 6, Security; issue 12). The unix socket needs none.
//
// The token comes from a file (--http-token-file, refused when group or others may read
// it, as ssh refuses a private key) or from DROVER_HTTP_TOKEN, which is taken out of
// drover's environment at start so that no worker inherits it. It is compared in
// constant time and never written to a log, an error text or a response.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace drover {

inline constexpr const char* kHttpTokenEnv = "DROVER_HTTP_TOKEN";
inline constexpr size_t kMinTokenLength = 16;

// True when a and b are equal. The time taken depends on expected's length only, never on
// where the two first differ, so a client cannot find the token byte by byte by timing.
bool constant_time_equal(std::string_view given, std::string_view expected);

// A token file: one line (trailing whitespace dropped), printable, at least
// kMinTokenLength characters. Refused when it is not a regular file or its mode has any
// group/other bit. Errors name the path and the fix, never the contents.
Result<std::string> read_token_file(const std::string& path);
// The same checks for a token from the environment ("DROVER_HTTP_TOKEN" in errors).
Status check_token(const std::string& token, const std::string& where);

// Removes DROVER_HTTP_TOKEN from the environment and returns what it held (nullopt when
// unset). Its bytes are wiped from the process's original environment block too, so
// /proc/PID/environ does not show them. Call in main() before any thread starts: setenv/unsetenv are not thread-safe,
// and the engine copies the environment into every pool.
std::optional<std::string> take_token_from_environment();

// 127.0.0.0/8, ::1 and "localhost": addresses only this machine can reach.
bool is_loopback_host(const std::string& host);

}  // namespace drover
