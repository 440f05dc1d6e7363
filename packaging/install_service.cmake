# Runs at install time (install(CODE) in CMakeLists.txt), from `cmake --install` or from CPack
# staging the package (prefix /usr, DESTDIR the staging folder).
#
# The example configuration goes to SYSCONFDIR/ferry/ferryd.conf, where the unit's ExecStart
# looks for it: /etc/ferry/ferryd.conf for the /usr prefix (GNUInstallDirs' rule), so that in
# the package it is a conffile (packaging/debian/conffiles): dpkg keeps the administrator's
# edits across upgrades, asks before replacing them, and removes it only on purge. A copy stays
# in share/doc/ferry/examples for reference. An existing file is never overwritten here, so a
# second `cmake --install` keeps a configuration in use.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(FERRY_SYSCONFDIR /etc)
else()
  set(FERRY_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(FERRY_BINDIR "${CMAKE_INSTALL_PREFIX}/bin")

# One staging folder per prefix: `cmake --install` and cpack may run from the same build.
string(MD5 prefix_key "${CMAKE_INSTALL_PREFIX}")
set(stage "${FERRY_STAGE_DIR}/${prefix_key}")
configure_file("${FERRY_PACKAGING_DIR}/ferryd.service.in" "${stage}/ferryd.service" @ONLY)
# lib/systemd/system below the prefix: /usr/lib/systemd/system for the package (the same folder
# as /lib/systemd/system on Debian 12's merged /usr), /usr/local/lib/systemd/system otherwise;
# systemd reads both.
file(INSTALL "${stage}/ferryd.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")

if(EXISTS "$ENV{DESTDIR}${FERRY_SYSCONFDIR}/ferry/ferryd.conf")
  message(STATUS "Keeping: $ENV{DESTDIR}${FERRY_SYSCONFDIR}/ferry/ferryd.conf")
else()
  file(INSTALL "${FERRY_PACKAGING_DIR}/ferryd.conf" DESTINATION "${FERRY_SYSCONFDIR}/ferry")
endif()
