# Installation and the CMake package (native builds only), so that another project can do
#   find_package(edgerec CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE edgerec::core)
# and #include <edgerec/edgerec.hpp>. Installed: the static core library, its public headers and
# the generated version header under include/edgerec/, and lib/cmake/edgerec/ with the config,
# version and exported-targets files. The test `package.find_package` (tests/package/) installs
# into a temporary prefix and builds a separate project against it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EDGEREC_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/edgerec" CACHE STRING
    "Where the CMake package files are installed, relative to the prefix")

set_target_properties(edgerec_core PROPERTIES EXPORT_NAME core)
# The public headers need C++17; consumers get it from the target.
target_compile_features(edgerec_core PUBLIC cxx_std_17)
# The same name inside this build, so code written against the package also builds in-tree.
add_library(edgerec::core ALIAS edgerec_core)

install(TARGETS edgerec_core EXPORT edgerec-targets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY core/include/edgerec DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(FILES "${CMAKE_BINARY_DIR}/generated/edgerec/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/edgerec")
install(EXPORT edgerec-targets NAMESPACE edgerec:: FILE edgerec-targets.cmake
        DESTINATION "${EDGEREC_INSTALL_CMAKEDIR}")

configure_package_config_file(cmake/edgerec-config.cmake.in
  "${CMAKE_BINARY_DIR}/cmake/edgerec-config.cmake"
  INSTALL_DESTINATION "${EDGEREC_INSTALL_CMAKEDIR}")
# 0.x: a new minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file("${CMAKE_BINARY_DIR}/cmake/edgerec-config-version.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/cmake/edgerec-config.cmake"
              "${CMAKE_BINARY_DIR}/cmake/edgerec-config-version.cmake"
        DESTINATION "${EDGEREC_INSTALL_CMAKEDIR}")
