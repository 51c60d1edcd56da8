# SPDX-License-Identifier: Apache-2.0
# Finds Debian's librocksdb-dev (the C API header rocksdb/c.h) and defines RocksDB::rocksdb.
#
# KV_ROCKSDB_STATIC (default ON; OFF under ThreadSanitizer, see below) links librocksdb.a, which
# librocksdb-dev ships, with the compression libraries and gflags it needs (librocksdb-dev
# depends on their -dev packages).
# Linked statically, RocksDB's thread-local variables (its perf context, touched on every
# iterator step and point read) are reached without a __tls_get_addr call each, and its calls
# into itself without the shared library's PLT.
option(KV_ROCKSDB_STATIC "link RocksDB statically (librocksdb.a)" ON)
# Except under ThreadSanitizer: RocksDB is not instrumented, and tests/tsan.supp tells TSan to
# ignore what it does through `called_from_lib:librocksdb.so`, which matches a shared library
# only. Linked statically, its memcpy into memtable arenas (intercepted, so recorded as writes)
# and the iterators' reads of them in our code are ordered only by RocksDB's own atomics, which
# TSan does not see: every read of a fresh memtable entry was reported as a race.
if(KV_SANITIZE MATCHES "thread" AND KV_ROCKSDB_STATIC)
  message(STATUS "KV_SANITIZE=thread: RocksDB linked as a shared library (tests/tsan.supp)")
  set(KV_ROCKSDB_STATIC OFF)
endif()
find_path(RocksDB_INCLUDE_DIR rocksdb/c.h)
if(KV_ROCKSDB_STATIC)
  find_library(RocksDB_STATIC_LIBRARY NAMES librocksdb.a)
  set(RocksDB_LIBRARY ${RocksDB_STATIC_LIBRARY})
else()
  find_library(RocksDB_SHARED_LIBRARY NAMES rocksdb)
  set(RocksDB_LIBRARY ${RocksDB_SHARED_LIBRARY})
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RocksDB REQUIRED_VARS RocksDB_LIBRARY RocksDB_INCLUDE_DIR)
if(RocksDB_FOUND AND NOT TARGET RocksDB::rocksdb)
  add_library(RocksDB::rocksdb UNKNOWN IMPORTED)
  set_target_properties(RocksDB::rocksdb PROPERTIES
    IMPORTED_LOCATION ${RocksDB_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${RocksDB_INCLUDE_DIR})
  if(KV_ROCKSDB_STATIC)
    set(_kv_rocksdb_deps)
    foreach(_lib snappy z bz2 lz4 zstd gflags)
      find_library(RocksDB_DEP_${_lib} NAMES ${_lib} REQUIRED)
      list(APPEND _kv_rocksdb_deps ${RocksDB_DEP_${_lib}})
    endforeach()
    find_package(Threads REQUIRED)
    set_target_properties(RocksDB::rocksdb PROPERTIES
      INTERFACE_LINK_LIBRARIES "${_kv_rocksdb_deps};Threads::Threads;${CMAKE_DL_LIBS};stdc++")
  endif()
endif()
