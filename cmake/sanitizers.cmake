# SPDX-License-Identifier: Apache-2.0
# KV_SANITIZE=address,undefined or thread, applied per target by one function (no flag-string
# concatenation). UB aborts instead of scrolling past.
function(kv_sanitize target)
  if(NOT KV_SANITIZE)
    return()
  endif()
  if(KV_SANITIZE MATCHES "thread" AND KV_SANITIZE MATCHES "address")
    message(FATAL_ERROR "KV_SANITIZE: thread and address cannot be combined")
  endif()
  set(flags -fsanitize=${KV_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_compile_options(${target} PRIVATE ${flags})
  target_link_options(${target} PRIVATE ${flags})
endfunction()

function(kv_target_flags target)
  kv_warnings(${target})
  kv_sanitize(${target})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
endfunction()
