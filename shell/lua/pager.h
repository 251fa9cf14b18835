// Long text through a pager, as git and man show it: only when the output is a terminal
// and the text is taller than it. $PAGER chooses the program (default `less -FRX`: it
// quits at once when the text fits, keeps colours, leaves the text on the screen); an
// empty PAGER, or a pager that cannot run, prints the text as it is.
#pragma once

#include <cstdio>
#include <string>

namespace drover {

void print_paged(FILE* out, const std::string& text);

}  // namespace drover
