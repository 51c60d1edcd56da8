# SPDX-License-Identifier: Apache-2.0
# Finds Debian's libgoogle-glog-dev and defines Glog::glog.
find_path(Glog_INCLUDE_DIR glog/logging.h)
find_library(Glog_LIBRARY NAMES glog)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Glog REQUIRED_VARS Glog_LIBRARY Glog_INCLUDE_DIR)
if(Glog_FOUND AND NOT TARGET Glog::glog)
  add_library(Glog::glog UNKNOWN IMPORTED)
  set_target_properties(Glog::glog PROPERTIES
    IMPORTED_LOCATION ${Glog_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${Glog_INCLUDE_DIR})
endif()
