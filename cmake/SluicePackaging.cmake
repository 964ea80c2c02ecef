# Install rules and the CPack .deb: `cmake --build --preset release --target package`.
# The binary is installed by app/CMakeLists.txt; the Lua scripts are compiled into it as Qt
# resources, so nothing else of the engine ships. Everything that is not the binary comes
# from packaging/ (see packaging/README.md).
include(GNUInstallDirs)

set(SLUICE_APP_ID "io.github.sluice_app.Sluice")
set(SLUICE_PACKAGING_DIR "${PROJECT_SOURCE_DIR}/packaging")

option(SLUICE_INSTALL_SYSTEM_FILES
       "Install the systemd units (/lib/systemd/system) and /etc/sluice/sluice.env (absolute paths)"
       ON)

# Debian wants man pages compressed; -n keeps the archive reproducible (no name, no time).
find_program(SLUICE_GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/sluice.1.gz"
  COMMAND "${SLUICE_GZIP}" -9 -n -c "${SLUICE_PACKAGING_DIR}/sluice.1"
          > "${CMAKE_CURRENT_BINARY_DIR}/sluice.1.gz"
  DEPENDS "${SLUICE_PACKAGING_DIR}/sluice.1"
  COMMENT "Compressing the man page"
  VERBATIM)
# The Debian changelog goes the same way; its version must be the project's (the package
# test checks).
add_custom_command(
  OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/changelog.gz"
  COMMAND "${SLUICE_GZIP}" -9 -n -c "${SLUICE_PACKAGING_DIR}/debian/changelog"
          > "${CMAKE_CURRENT_BINARY_DIR}/changelog.gz"
  DEPENDS "${SLUICE_PACKAGING_DIR}/debian/changelog"
  COMMENT "Compressing the Debian changelog"
  VERBATIM)
add_custom_target(sluice_compressed_docs ALL
  DEPENDS "${CMAKE_CURRENT_BINARY_DIR}/sluice.1.gz" "${CMAKE_CURRENT_BINARY_DIR}/changelog.gz")

install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sluice.1.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/changelog.gz"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/sluice")
install(FILES "${SLUICE_PACKAGING_DIR}/debian/lintian-overrides"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides"
        RENAME sluice)
install(FILES "${SLUICE_PACKAGING_DIR}/${SLUICE_APP_ID}.desktop"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/applications")
install(FILES "${SLUICE_PACKAGING_DIR}/${SLUICE_APP_ID}.metainfo.xml"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/metainfo")
install(FILES "${SLUICE_PACKAGING_DIR}/icons/sluice.svg"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps"
        RENAME "${SLUICE_APP_ID}.svg")
foreach(size 48 256)
  install(FILES "${SLUICE_PACKAGING_DIR}/icons/sluice-${size}.png"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/icons/hicolor/${size}x${size}/apps"
          RENAME "${SLUICE_APP_ID}.png")
endforeach()
install(FILES README.md docs/user-guide.md docs/operations.md docs/console-runs.png
              docs/console-overview.png docs/console-leads.png docs/console-dark-leads.png
        DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/sluice")

if(SLUICE_INSTALL_SYSTEM_FILES)
  # Debian 12 packages still ship units in /lib (the /usr/lib move came with trixie).
  install(FILES "${SLUICE_PACKAGING_DIR}/systemd/sluice.service"
                "${SLUICE_PACKAGING_DIR}/systemd/sluice-worker.service"
          DESTINATION /lib/systemd/system)
  # Holds secrets: not world-readable. postinst gives the group to `sluice`. It is a conffile
  # (packaging/debian/conffiles): an upgrade keeps the administrator's edits.
  install(FILES "${SLUICE_PACKAGING_DIR}/systemd/sluice.env"
          DESTINATION /etc/sluice
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endif()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "sluice")
set(CPACK_PACKAGE_VENDOR "The Sluice developers")
set(CPACK_PACKAGE_CONTACT "The Sluice developers <maintainers@sluice-app.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Close CRM to Instantly lead delivery engine and operator console")
# The Debian long description, wrapped as dpkg shows it.
set(CPACK_PACKAGE_DESCRIPTION
    "Sluice acknowledges Close CRM webhooks in milliseconds, keeps each lead durably
in Redis and delivers it to an Instantly campaign within the workspace rate
limits: a limiter shared by every instance through Redis, a circuit breaker,
retries and bulk requests, so no lead is lost or sent twice.
.
The Qt console shows it live and runs load tests against a built-in sandbox;
`sluice serve` and `sluice worker` run the same engine headless under systemd.")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/sluice-app/sluice")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# dpkg-shlibdeps (dpkg-dev) finds the Qt 6 libraries and libhiredis the binary links; these
# are what it cannot see: adduser for postinst, the platform plugin the console loads at run
# time. redis-server is only needed without REDIS_URL (a private one per machine).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, qt6-qpa-plugins")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${SLUICE_PACKAGING_DIR}/debian/postinst"
    "${SLUICE_PACKAGING_DIR}/debian/prerm"
    "${SLUICE_PACKAGING_DIR}/debian/postrm")
if(SLUICE_INSTALL_SYSTEM_FILES)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${SLUICE_PACKAGING_DIR}/debian/conffiles")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
