// Secrets in pools' environments, kept out of what the control plane shows by default.
//
// A pool's env carries DB_PASSWORD, API tokens and URLs with credentials in them; the
// snapshot routes answer with every pool's env. So snapshots leave the control plane with
// those values replaced by kRedacted, unless the client asks with ?secrets=1 (it holds
// the token, or it is the owner on the unix socket: whoever may change a pool's env may
// read it). The names are matched as supervisord and Sidekiq's web UI users expect a
// secret to be named; a URL's password is masked whatever its variable is called.
#pragma once

#include <string>

#include "engine/snapshot.h"

namespace drover {

inline constexpr const char* kRedacted = "(redacted)";

// PASSWORD, PASSWD, PASS, SECRET, TOKEN, KEY, CREDENTIAL(S), PRIVATE, AUTH, COOKIE, SALT,
// DSN as a word of the name (split at '_', '-', '.'; any case): DB_PASSWORD, api-key,
// AWS_SECRET_ACCESS_KEY, SENTRY_DSN; or a word ending in PASSWORD, PASSWD, SECRET, TOKEN
// or APIKEY (DBPASSWORD, GITHUBTOKEN). Not KEYBOARD_LAYOUT, PASSAGE or PWD.
bool is_secret_env_name(const std::string& name);
// The value to show: kRedacted for a secret name; a URL with a password in it
// ("redis://:pw@host/0", "postgres://u:pw@db/app") with the password masked; else as is.
std::string shown_env_value(const std::string& name, const std::string& value);
// Every pool's env in the snapshot, as shown_env_value says.
void redact_secrets(EngineSnapshot& snap);

}  // namespace drover
