# Generates a C++ source holding every help/*.md page as a raw string literal.
# Usage: cmake -DHELP_DIR=... -DOUT=... -P embed_help.cmake
file(GLOB pages "${HELP_DIR}/*.md")
list(SORT pages)
set(body "// Generated from help/*.md by shell/embed_help.cmake. Do not edit.\n#include \"shell/lua/help_pages.h\"\n\nnamespace drover {\nnamespace {\nconst HelpPage kPages[] = {\n")
foreach(page ${pages})
  get_filename_component(name ${page} NAME_WE)
  file(READ ${page} text)
  string(APPEND body "    {\"${name}\", R\"drover_help(${text})drover_help\"},\n")
endforeach()
string(APPEND body "};\n}  // namespace\n\nstd::span<const HelpPage> help_pages() { return kPages; }\n\nconst HelpPage* find_help_page(std::string_view name) {\n  for (const auto& p : kPages)\n    if (p.name == name) return &p;\n  return nullptr;\n}\n\n}  // namespace drover\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
