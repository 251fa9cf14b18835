// The HTTP token drover makes for itself (issue 12): TCP clients always need a bearer
// token, loopback included, so a drover serving --http with none given keeps one in
//
//   ${XDG_STATE_HOME:-$HOME/.local/state}/drover/http-token    (directory 0700, file 0600)
//
// 64 hex characters (32 bytes from getrandom). An existing file is reused, so a restarted
// drover keeps its clients working, and checked by the --http-token-file rules
// (control/http_auth.h: a regular file, owner-only mode, a printable token): a bad one
// is an error naming it, never silently replaced. `drover attach HOST:PORT` reads the same
// file when no token is given, so the same user on the same host needs no flags.
#pragma once

#include <string>

#include "engine/status.h"

namespace drover {

// The file's path, from XDG_STATE_HOME, else HOME, else the passwd entry's home; an error
// when none of them says.
Result<std::string> default_http_token_path();

// The token in path, made first when there is no file there.
Result<std::string> read_or_create_http_token(const std::string& path);

// The token in path when the file exists; an empty string when it does not.
Result<std::string> read_http_token_if_present(const std::string& path);

}  // namespace drover
