# SPDX-License-Identifier: Apache-2.0
# One place for language levels and warning flags. Warnings are errors in every build type.
set(KV_C_WARNINGS
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
    -Wvla -Wundef -Wno-unused-parameter)
set(KV_CXX_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)

function(kv_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:${KV_C_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CXX>:${KV_CXX_WARNINGS}>)
endfunction()
