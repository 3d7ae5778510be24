# Writes OUT, a C++ file holding the status page's sources (share/byparr/status)
# as raw string literals, so the binary serves the page without a data directory.
# Run at build time: cmake -DIN_DIR=... -DOUT=... -P embed_status_assets.cmake
set(assets
    "status.html|text/html"
    "status.js|text/javascript"
    "status.css|text/css")
set(delim "BYPARR_ASSET")
set(body "// Generated from share/byparr/status by host/embed_status_assets.cmake. Do not edit.\n")
string(APPEND body "#include <cstddef>\n#include <string_view>\n\nnamespace byparr {\n\n")
string(APPEND body "struct StatusAsset {\n    const char* name;\n    const char* content_type;\n")
string(APPEND body "    std::string_view body;\n};\n\nextern const StatusAsset kStatusAssets[] = {\n")
foreach(entry IN LISTS assets)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 name)
    list(GET parts 1 type)
    file(READ "${IN_DIR}/${name}" content)
    string(FIND "${content}" ")${delim}\"" clash)
    if(NOT clash EQUAL -1)
        message(FATAL_ERROR "${name} contains the raw-string delimiter )${delim}\"")
    endif()
    string(APPEND body "    {\"${name}\", \"${type}; charset=utf-8\", R\"${delim}(${content})${delim}\"},\n")
endforeach()
string(APPEND body "};\nextern const size_t kStatusAssetCount = 3;\n\n}  // namespace byparr\n")
# Only rewrite on change, so an unchanged page does not relink the host.
if(EXISTS "${OUT}")
    file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${body}")
    file(WRITE "${OUT}" "${body}")
endif()
