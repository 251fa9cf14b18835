// `drover attach`: the shell of a drover running elsewhere (another host, or this host
// in another terminal or under systemd), like workerpoolmanager's console controlling
// managers on other hosts.
//
//   drover attach [PID|SOCKET|HOST:PORT] [-e CODE]... [-i] [--wait[=SECONDS]] [--token-file PATH]
//
// Which drover (issue 12):
//   (nothing)    the one drover of this user running on this host, through its control
//                socket (app/control_socket.h); none, or several, is an error that says
//                where it looked, or lists them by pid
//   PID          that drover of this user, through its control socket. A number is a PID
//                when a live drover of this user has it, else a PORT on 127.0.0.1
//   SOCKET       a control socket's path (anything with a '/')
//   HOST:PORT    a drover serving --http; also ":PORT", "PORT", "http://HOST:PORT"
// Over the socket no token is sent: its mode and the server's peer check decide. Over TCP
// the token comes from --token-file, else DROVER_HTTP_TOKEN, else the file drover makes
// for itself (app/http_token.h), so the same user on the same host needs no flags.
//
// The same Lua REPL, bindings, help pages and completion (of the remote pool names), over
// the remote drover's HTTP/JSON API (RemoteClient). -e runs code, prints its values and
// detaches (-i: then stay in the shell); --wait settles the remote pools first, as a local
// shell's --wait does. exit() and Ctrl-D detach: the remote drover and its workers go on.
// Autoscale policies are the host's (autoscale.list/on/off reach them; defining one here
// is refused); every() timers defined here run in this shell, while it stays attached.
//
// Exit status: 0; 1 the server cannot be reached or found, refuses the token or a -e
// chunk failed; 2 bad usage, or several drovers to choose from.
#pragma once

namespace drover {

// argv[0] is "attach"; the address and options follow.
int run_attach_command(int argc, char** argv);

}  // namespace drover
