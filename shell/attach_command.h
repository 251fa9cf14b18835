// `drover attach HOST:PORT`: the shell of a drover running elsewhere, like
// workerpoolmanager's console controlling managers on other hosts.
//
//   drover attach 127.0.0.1:8010 [-e CODE]... [-i] [--token-file PATH]
//
// The same Lua REPL, bindings, help pages and completion (of the remote pool names), over
// the remote drover's HTTP/JSON API (RemoteClient). -e runs code, prints its values and
// detaches (-i: then stay in the shell). exit() and Ctrl-D detach: the remote drover and
// its workers go on. The token (for a drover listening beyond loopback) comes from
// --token-file or DROVER_HTTP_TOKEN. Policies defined here (autoscale, every) run in
// this shell, against the remote engine, while it stays attached.
//
// Exit status: 0; 1 the server cannot be reached, refuses the token or a -e chunk
// failed; 2 bad usage.
#pragma once

namespace drover {

// argv[0] is "attach"; the address and options follow.
int run_attach_command(int argc, char** argv);

}  // namespace drover
