# Debian packages (`make package` = `cd build && cpack -G DEB`), included at the end of the
# top-level CMakeLists.txt.
#
#   byparr_<ver>_<arch>.deb      the server, byparrctl, the plugins (+ webengine worker),
#                                challenges.json, the systemd unit, /etc/default/byparr
#   byparr-dev_<ver>_all.deb     the plugin SDK (headers, CMake package, examples): the
#                                `sdk` install component. A separate package because a
#                                server needs none of it and a plugin author needs no server.
#
# Runtime dependencies come from dpkg-shlibdeps over every ELF file in the package (so they
# follow what the binaries really link), plus what no ELF file names: QtWebEngineProcess is
# exec'd at run time, fonts and CA certificates are read as data.

# Plugins install to lib/byparr/plugins whatever CMAKE_INSTALL_LIBDIR is (see the
# top-level CMakeLists.txt), so a /usr prefix keeps <exe>/../lib/byparr/plugins valid.

# Unit and defaults file belong to the .deb only. EXCLUDE_FROM_ALL keeps them out of a plain
# `cmake --install` (the container image's /opt/byparr, a `make install` into /usr/local):
# the unit hard-codes /usr/bin/byparr, and /etc/default is an absolute path that would escape
# any --prefix. CPack installs component by component, so it still picks them up.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/systemd/byparr.service
        DESTINATION lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/systemd/byparr.env
        DESTINATION /etc/default RENAME byparr COMPONENT service EXCLUDE_FROM_ALL)

set(BYPARR_PACKAGE_MAINTAINER "Byparr maintainers <byparr@localhost>" CACHE STRING
    "Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME byparr)
set(CPACK_PACKAGE_VENDOR byparr)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's Description below starts with its own summary line. CPack 3.25 prepends
# CPACK_PACKAGE_DESCRIPTION_SUMMARY to every component's description unless it is CPack's
# placeholder, so keep the placeholder (it then appears nowhere).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGE_CONTACT "${BYPARR_PACKAGE_MAINTAINER}")
# The build tree is configured for /usr/local (a `make install` stays out of dpkg's way);
# the package relocates everything under /usr.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # RelWithDebInfo binaries are several times larger unstripped
set(CPACK_GENERATOR DEB)

# One package per component group.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified service sdk)
set(CPACK_COMPONENT_UNSPECIFIED_GROUP server)
set(CPACK_COMPONENT_SERVICE_GROUP server)
set(CPACK_COMPONENT_SDK_GROUP dev)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BYPARR_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME byparr)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "${PROJECT_DESCRIPTION}
Byparr serves the FlareSolverr v1 HTTP API (POST /v1) that Prowlarr, Jackett and
other clients use to get past Cloudflare and DDoS-Guard challenges. Pages are
loaded in Qt WebEngine (Chromium) worker processes, or in the system's current
Chromium (the chromium solver); solvers, cookie sources and
proxy providers are plugins, managed at run time with byparrctl.

The systemd unit byparr.service is installed but not enabled; settings are read
from /etc/default/byparr.")
set(CPACK_DEBIAN_SERVER_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "libqt6webenginecore6-bin, fonts-liberation | fonts-dejavu-core, ca-certificates")
# The chromium solver drives Debian's Chromium in a window under Xvfb; without them it loads
# as unavailable and webengine serves alone. BROWSER_DISPLAY=xvfb (WebGL) for webengine needs
# the X server and Mesa too; the default offscreen mode does not.
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "chromium, xvfb, libgl1-mesa-dri")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/deb/conffiles;${CMAKE_CURRENT_LIST_DIR}/deb/postinst;${CMAKE_CURRENT_LIST_DIR}/deb/prerm;${CMAKE_CURRENT_LIST_DIR}/deb/postrm")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME byparr-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)  # headers and CMake files only
set(CPACK_DEBIAN_DEV_DESCRIPTION "Byparr plugin SDK
The C ABI header, the header-only C++ wrapper and the CMake package
(find_package(ByparrSDK) + byparr_add_plugin()) for building Byparr plugins
out of tree, with an example plugin under /usr/share/byparr/sdk.")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake, g++")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "byparr")

include(CPack)
