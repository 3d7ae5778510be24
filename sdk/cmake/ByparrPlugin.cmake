# byparr_add_plugin(): the one way every Byparr plugin is built, in tree and out
# of tree alike.
#
#   byparr_add_plugin(<target>
#       ID <id>                      # [a-z0-9-]+, unique; also the folder and library name
#       VERSION <x.y.z>
#       SOURCES <files>...
#       [NAME "<human name>"] [DESCRIPTION "<one line>"]
#       [CAPABILITIES solver cookie-source proxy-provider captcha-solver]
#       [SETTINGS <NAME>...]         # environment variables the plugin reads (config.get)
#       [OUTPUT_DIRECTORY <dir>]     # default: ${CMAKE_BINARY_DIR}/lib/byparr/plugins
#       [INSTALL_DESTINATION <dir>]  # default: lib/byparr/plugins (where byparr looks: <bindir>/../lib/byparr/plugins)
#       [NO_INSTALL])
#
# It builds a MODULE library lib<id>.so with hidden visibility and no undefined
# symbols (so a missing symbol fails the build, not the host at load time), and
# writes <id>.plugin.json beside it from the same arguments that compile the id
# and version into the binary (BYPARR_PLUGIN_ID / BYPARR_PLUGIN_VERSION), so the
# manifest and the binary cannot disagree.
#
# SETTINGS lists every environment variable the plugin reads through sdk::Config. They go
# into the manifest ("settings"), the host checks them when it loads the plugin and passes
# exactly those values (an undeclared name reads as unset), and `byparrctl plugins info`
# shows them. Names are [A-Z_][A-Z0-9_]*; API_KEY (the host's own secret) is refused.

include_guard(GLOBAL)
include(GNUInstallDirs)

get_filename_component(_byparr_sdk_cmake_dir "${CMAKE_CURRENT_LIST_FILE}" DIRECTORY)

# The ABI version comes from the header, the single source of truth.
function(_byparr_read_abi header out_major out_minor)
    file(STRINGS "${header}" _maj REGEX "^#define BYPARR_ABI_MAJOR [0-9]+")
    file(STRINGS "${header}" _min REGEX "^#define BYPARR_ABI_MINOR [0-9]+")
    string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _maj "${_maj}")
    string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _min "${_min}")
    set(${out_major} "${_maj}" PARENT_SCOPE)
    set(${out_minor} "${_min}" PARENT_SCOPE)
endfunction()

function(_byparr_json_escape in out)
    string(REPLACE "\\" "\\\\" s "${in}")
    string(REPLACE "\"" "\\\"" s "${s}")
    set(${out} "${s}" PARENT_SCOPE)
endfunction()

function(byparr_add_plugin target)
    cmake_parse_arguments(P "NO_INSTALL" "ID;VERSION;NAME;DESCRIPTION;OUTPUT_DIRECTORY;INSTALL_DESTINATION"
                          "SOURCES;CAPABILITIES;SETTINGS" ${ARGN})
    if(NOT P_ID OR NOT P_VERSION OR NOT P_SOURCES)
        message(FATAL_ERROR "byparr_add_plugin(${target}): ID, VERSION and SOURCES are required")
    endif()
    if(NOT P_ID MATCHES "^[a-z0-9][a-z0-9-]*$")
        message(FATAL_ERROR "byparr_add_plugin(${target}): ID '${P_ID}' must match [a-z0-9][a-z0-9-]*")
    endif()
    if(NOT P_VERSION MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+")
        message(FATAL_ERROR "byparr_add_plugin(${target}): VERSION '${P_VERSION}' is not x.y.z")
    endif()
    if(NOT P_NAME)
        set(P_NAME "${P_ID}")
    endif()
    if(NOT P_CAPABILITIES)
        set(P_CAPABILITIES solver)
    endif()
    if(NOT P_OUTPUT_DIRECTORY)
        set(P_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib/byparr/plugins")
    endif()
    if(NOT P_INSTALL_DESTINATION)
        set(P_INSTALL_DESTINATION "lib/byparr/plugins")
    endif()

    if(TARGET Byparr::sdk)
        get_target_property(_inc Byparr::sdk INTERFACE_INCLUDE_DIRECTORIES)
    endif()
    set(_header "")
    foreach(_d IN LISTS _inc)
        string(REGEX REPLACE "^\\$<BUILD_INTERFACE:(.*)>$" "\\1" _d "${_d}")
        if(EXISTS "${_d}/byparr/abi.h")
            set(_header "${_d}/byparr/abi.h")
        endif()
    endforeach()
    if(NOT _header)
        message(FATAL_ERROR "byparr_add_plugin: Byparr::sdk target with byparr/abi.h not found")
    endif()
    _byparr_read_abi("${_header}" _abi_major _abi_minor)

    add_library(${target} MODULE ${P_SOURCES})
    target_link_libraries(${target} PRIVATE Byparr::sdk)
    target_compile_definitions(${target} PRIVATE
        BYPARR_PLUGIN_ID="${P_ID}" BYPARR_PLUGIN_VERSION="${P_VERSION}")
    set_target_properties(${target} PROPERTIES
        PREFIX "lib"
        OUTPUT_NAME "${P_ID}"
        CXX_VISIBILITY_PRESET hidden
        C_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON
        LIBRARY_OUTPUT_DIRECTORY "${P_OUTPUT_DIRECTORY}/${P_ID}")
    if(NOT APPLE)
        target_link_options(${target} PRIVATE "LINKER:--no-undefined")
    endif()

    set(_caps "")
    foreach(_c IN LISTS P_CAPABILITIES)
        if(NOT _c MATCHES "^(solver|cookie-source|proxy-provider|captcha-solver)$")
            message(FATAL_ERROR "byparr_add_plugin(${target}): unknown capability '${_c}'")
        endif()
        list(APPEND _caps "\"${_c}\"")
    endforeach()
    list(JOIN _caps ", " _caps)
    set(_settings "")
    foreach(_s IN LISTS P_SETTINGS)
        if(NOT _s MATCHES "^[A-Z_][A-Z0-9_]*$")
            message(FATAL_ERROR "byparr_add_plugin(${target}): setting '${_s}' must match [A-Z_][A-Z0-9_]*")
        endif()
        if(_s STREQUAL "API_KEY")
            message(FATAL_ERROR "byparr_add_plugin(${target}): API_KEY is the host's secret, not a plugin setting")
        endif()
        list(APPEND _settings "\"${_s}\"")
    endforeach()
    list(REMOVE_DUPLICATES _settings)
    list(JOIN _settings ", " _settings)
    _byparr_json_escape("${P_NAME}" _name)
    _byparr_json_escape("${P_DESCRIPTION}" _desc)
    set(_manifest "{\n  \"id\": \"${P_ID}\",\n  \"name\": \"${_name}\",\n  \"version\": \"${P_VERSION}\",\n  \"abi\": {\"major\": ${_abi_major}, \"minor\": ${_abi_minor}},\n  \"capabilities\": [${_caps}],\n  \"settings\": [${_settings}],\n  \"description\": \"${_desc}\",\n  \"library\": \"lib${P_ID}.so\"\n}\n")
    set(_manifest_path "${P_OUTPUT_DIRECTORY}/${P_ID}/${P_ID}.plugin.json")
    file(GENERATE OUTPUT "${_manifest_path}" CONTENT "${_manifest}")
    set_target_properties(${target} PROPERTIES BYPARR_MANIFEST "${_manifest_path}"
                                               BYPARR_PLUGIN_ID "${P_ID}")

    if(NOT P_NO_INSTALL)
        install(TARGETS ${target} LIBRARY DESTINATION "${P_INSTALL_DESTINATION}/${P_ID}")
        install(FILES "${_manifest_path}" DESTINATION "${P_INSTALL_DESTINATION}/${P_ID}")
    endif()
endfunction()
