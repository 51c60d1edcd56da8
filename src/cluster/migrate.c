/* SPDX-License-Identifier: Apache-2.0 */
#include "cluster/migrate.h"

#include <stdio.h>
#include <string.h>

#include "common/slot.h"

/* Parse a run of decimal digits as a slot candidate; false when empty, not digits, or too long
 * to be a slot (the value then exceeds SLOT_COUNT). */
static bool
parse_number(const char *p, size_t n, uint32_t *out)
{
    if (n == 0 || n > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

enum kv_code
migrate_parse_range(struct kv_slice s, struct cluster_slot_range *out, struct kv_err *err)
{
    const char *p = s.ptr;
    const char *dash = s.len > 0 ? memchr(p, '-', s.len) : NULL;
    uint32_t a = 0, b = 0;
    if (dash == NULL) {
        if (!parse_number(p, s.len, &a))
            return kv_err_set(err, KV_ERR_INVALID, MIGRATE_ERR_RANGE);
        if (a >= SLOT_COUNT)
            return kv_err_set(err, KV_ERR_INVALID, MIGRATE_ERR_SLOT_ID);
        b = a;
    } else {
        size_t left = (size_t)(dash - p);
        if (!parse_number(p, left, &a) || !parse_number(dash + 1, s.len - left - 1, &b) ||
            a >= SLOT_COUNT || b >= SLOT_COUNT || a > b)
            return kv_err_set(err, KV_ERR_INVALID, MIGRATE_ERR_RANGE);
    }
    out->set = true;
    out->start = (uint16_t)a;
    out->end = (uint16_t)b;
    return KV_OK;
}

const char *
migrate_range_str(const struct cluster_slot_range *r, char *buf)
{
    if (!r->set)
        buf[0] = '\0';
    else if (r->start == r->end)
        snprintf(buf, MIGRATE_RANGE_STR_MAX, "%u", (unsigned)r->start);
    else
        snprintf(buf, MIGRATE_RANGE_STR_MAX, "%u-%u", (unsigned)r->start, (unsigned)r->end);
    return buf;
}

bool
migrate_range_overlaps(const struct cluster_slot_range *a, const struct cluster_slot_range *b)
{
    return a->set && b->set && a->start <= b->end && b->start <= a->end;
}

bool
migrate_range_contains(const struct cluster_slot_range *r, uint16_t slot)
{
    return r->set && r->start <= slot && slot <= r->end;
}

const char *
migrate_state_name(enum migrate_state s)
{
    switch (s) {
    case MIGRATE_START:
        return "start";
    case MIGRATE_SUCCESS:
        return "success";
    case MIGRATE_FAIL:
        return "fail";
    case MIGRATE_NONE:
        break;
    }
    return "none";
}

const char *
import_state_name(enum import_state s)
{
    switch (s) {
    case IMPORT_START:
        return "start";
    case IMPORT_SUCCESS:
        return "success";
    case IMPORT_ERROR:
        return "error";
    case IMPORT_NONE:
        break;
    }
    return "none";
}

void
migrate_resp_append(struct kv_buf *out, size_t argc, const struct kv_slice *argv)
{
    kv_buf_printf(out, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++) {
        kv_buf_printf(out, "$%zu\r\n", argv[i].len);
        kv_buf_append(out, argv[i].ptr, argv[i].len);
        kv_buf_append(out, "\r\n", 2);
    }
}

enum migrate_reply_kind
migrate_reply_classify(struct kv_slice line, int64_t *bulk_len)
{
    if (line.len == 0)
        return MIGRATE_REPLY_BAD;
    const char *p = line.ptr;
    switch (p[0]) {
    case '+':
    case ':':
        return MIGRATE_REPLY_OK;
    case '-':
        return MIGRATE_REPLY_ERROR;
    case '$':
    case '*': {
        if (line.len == 3 && p[1] == '-' && p[2] == '1')
            return MIGRATE_REPLY_OK;
        if (p[0] == '*')
            return MIGRATE_REPLY_BAD;
        uint32_t n = 0;
        if (!parse_number(p + 1, line.len - 1, &n))
            return MIGRATE_REPLY_BAD;
        *bulk_len = n;
        return MIGRATE_REPLY_BULK;
    }
    default:
        return MIGRATE_REPLY_BAD;
    }
}

int64_t
migrate_pace_delay_ms(uint64_t sent, int64_t elapsed_ms, int64_t speed)
{
    if (speed <= 0)
        return 0;
    int64_t due_ms = (int64_t)(sent * 1000 / (uint64_t)speed);
    return due_ms > elapsed_ms ? due_ms - elapsed_ms : 0;
}
