// SPDX-License-Identifier: Apache-2.0
//
// S(): a kv_slice over test data. A literal gets the const char * overload, whose slice
// outlives the statement; the std::string overload borrows the string, which must outlive
// the slice (S("k") through std::string would point into a temporary).
#ifndef KV_TESTS_UNIT_SLICE_UTIL_H
#define KV_TESTS_UNIT_SLICE_UTIL_H

#include <string.h>
#include <string>

#include "common/slice.h"

inline struct kv_slice
S(const std::string &s) {
    return kv_slice_make(s.data(), s.size());
}

inline struct kv_slice
S(const char *s) {
    return kv_slice_make(s, strlen(s));
}

#endif
