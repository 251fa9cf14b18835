# What `cmake --install build --prefix P` puts where, the man page it installs, and the
# .deb that `cpack -G DEB` makes of the same files. Included from the top CMakeLists.txt
# after the targets exist.
#
#   P/bin/drover
#   P/libexec/drover/heartbeat_worker          the built example worker
#   P/share/drover/policies/*.lua              what `load "queue_proportional"` finds
#   P/share/drover/examples/                   configs and workers, runnable as installed
#   P/share/doc/drover/                        README.md, LICENSE, help/*.md
#   P/share/man/man1/drover.1
#
# The binary finds share/drover relative to itself (shell/lua/data_dirs.h), so P may
# differ from CMAKE_INSTALL_PREFIX (cpack installs under /usr).

# --- the man page: `drover --help` and help/*.md, rendered by tools/make_man_page.cpp
add_executable(make_man_page ${PROJECT_SOURCE_DIR}/tools/make_man_page.cpp)
file(GLOB DROVER_MAN_HELP_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/help/*.md)
list(SORT DROVER_MAN_HELP_PAGES)
# Honours SOURCE_DATE_EPOCH, for a reproducible package.
string(TIMESTAMP DROVER_MAN_DATE "%Y-%m-%d" UTC)
set(DROVER_MAN_PAGE ${CMAKE_BINARY_DIR}/drover.1)
add_custom_command(
  OUTPUT ${DROVER_MAN_PAGE}
  COMMAND make_man_page ${PROJECT_VERSION} ${DROVER_MAN_DATE} $<TARGET_FILE:drover> ${DROVER_MAN_PAGE}
          ${DROVER_MAN_HELP_PAGES}
  DEPENDS make_man_page drover ${DROVER_MAN_HELP_PAGES}
  COMMENT "Writing the man page drover.1"
  VERBATIM)
add_custom_target(man_page ALL DEPENDS ${DROVER_MAN_PAGE})

# --- heartbeats.lua as installed: its build-tree paths to the C++ worker and to drover
# become the installed ones, relative to the examples directory as the config's are.
set(DROVER_EXAMPLES_DEST ${CMAKE_INSTALL_DATADIR}/drover/examples)
file(RELATIVE_PATH DROVER_EXAMPLES_TO_WORKER ${CMAKE_INSTALL_FULL_DATADIR}/drover/examples
     ${CMAKE_INSTALL_FULL_LIBEXECDIR}/drover/heartbeat_worker)
file(RELATIVE_PATH DROVER_EXAMPLES_TO_BIN ${CMAKE_INSTALL_FULL_DATADIR}/drover/examples
     ${CMAKE_INSTALL_FULL_BINDIR}/drover)
file(READ ${PROJECT_SOURCE_DIR}/examples/heartbeats.lua DROVER_HEARTBEATS_LUA)
foreach(build_path IN ITEMS "../build/examples/heartbeat_worker" "../build/drover")
  string(FIND "${DROVER_HEARTBEATS_LUA}" "\"${build_path}\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "examples/heartbeats.lua no longer says \"${build_path}\": update cmake/install.cmake, "
                        "which rewrites it for the installed examples")
  endif()
endforeach()
string(REPLACE "\"../build/examples/heartbeat_worker\"" "\"${DROVER_EXAMPLES_TO_WORKER}\""
       DROVER_HEARTBEATS_LUA "${DROVER_HEARTBEATS_LUA}")
string(REPLACE "\"../build/drover\"" "\"${DROVER_EXAMPLES_TO_BIN}\"" DROVER_HEARTBEATS_LUA "${DROVER_HEARTBEATS_LUA}")
string(PREPEND DROVER_HEARTBEATS_LUA "-- (Installed copy: the C++ worker and drover below are the installed ones.)\n")
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/installed_examples/heartbeats.lua CONTENT "${DROVER_HEARTBEATS_LUA}" @ONLY)

# --- the install rules
install(TARGETS drover RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS heartbeat_worker RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/drover)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/policies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/drover/policies
        FILES_MATCHING PATTERN "*.lua")
install(FILES ${PROJECT_SOURCE_DIR}/examples/pools.lua ${PROJECT_SOURCE_DIR}/examples/autoscale.lua
              ${PROJECT_SOURCE_DIR}/examples/resque-pool.yml ${PROJECT_SOURCE_DIR}/examples/drover.service
              ${PROJECT_SOURCE_DIR}/examples/schedules.lua ${PROJECT_SOURCE_DIR}/examples/taskscheduler.json
              ${CMAKE_BINARY_DIR}/installed_examples/heartbeats.lua
        DESTINATION ${DROVER_EXAMPLES_DEST})
# Workers keep their modes (they are the pools' commands); the C++ one's source comes too.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/workers ${PROJECT_SOURCE_DIR}/examples/wpm
        DESTINATION ${DROVER_EXAMPLES_DEST} USE_SOURCE_PERMISSIONS)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${DROVER_MAN_HELP_PAGES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/help)
install(FILES ${DROVER_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# --- cpack -G DEB (run in the build directory): the same files under /usr.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME drover)
set(CPACK_PACKAGE_VENDOR "the drover authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "process-pool master with a Lua shell and queue-driven autoscaling")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "the drover authors <drover@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The build is RelWithDebInfo: without stripping, the package is 20 MB and slow to make.
set(CPACK_STRIP_FILES ON)
# Library dependencies as dpkg-shlibdeps finds them in the binaries.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# examples/workers/rq_list_worker.sh (examples/autoscale.lua's worker) needs redis-cli.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server, redis-tools")
include(CPack)
