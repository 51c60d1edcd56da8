/* SPDX-License-Identifier: Apache-2.0
 *
 * scan_cursor: the server-wide table that turns scan positions into the integer cursors Redis
 * clients expect (SCAN, and later HSCAN/SSCAN/ZSCAN). Our keys are ordered in RocksDB, so an
 * iteration resumes "strictly after the last key returned"; the client only sees a number that
 * names that key in this table.
 *
 * Cursor numbers: cursor = (sequence << 14) | slot, where `sequence` counts saved cursors from 1
 * (process-wide, wrapping before 2^49 so a cursor stays below 2^63 for clients that parse it as
 * a signed integer) and slot = sequence mod SCAN_CURSOR_SLOTS. A cursor is never 0, which
 * starts and ends an iteration. Saving overwrites the slot's previous entry, so the table keeps
 * the SCAN_CURSOR_SLOTS most recently issued cursors; an older, forged or foreign cursor is
 * simply unknown and the caller restarts from the beginning, as Kvrocks does (every key that
 * exists for the whole iteration is still returned at least once).
 *
 * Each entry is bound to a kind (which command family issued it), a namespace and, for
 * key-scoped scans, the user key, so a cursor never resumes another client's namespace or
 * another key's scan.
 *
 * Does not parse options or talk to storage.
 *
 * Threads: any; one mutex protects a table.
 */
#ifndef KV_COMMANDS_SCAN_CURSOR_H
#define KV_COMMANDS_SCAN_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCAN_CURSOR_SLOT_BITS 14
#define SCAN_CURSOR_SLOTS (1u << SCAN_CURSOR_SLOT_BITS)

/* Which command family issued a cursor. */
enum scan_cursor_kind {
    SCAN_CURSOR_KEYSPACE = 1, /* SCAN */
    SCAN_CURSOR_HASH = 2,     /* HSCAN */
    SCAN_CURSOR_SET = 3,      /* SSCAN */
    SCAN_CURSOR_ZSET = 4,     /* ZSCAN */
};

struct scan_cursor_table;

/* A new empty table of SCAN_CURSOR_SLOTS entries (allocated lazily per entry). Never NULL. */
struct scan_cursor_table *scan_cursor_table_new(void);
/* Free the table and every saved position. NULL is a no-op. */
void scan_cursor_table_free(struct scan_cursor_table *t);

/* The process-wide table (created on first use, never freed: it lives as long as the process).
 */
struct scan_cursor_table *scan_cursor_shared(void);

/* Remember `pos` (copied) for (kind, ns, key) and return its new cursor number (never 0).
 * key is empty for SCAN. */
uint64_t scan_cursor_save(struct scan_cursor_table *t, enum scan_cursor_kind kind,
                          struct kv_slice ns, struct kv_slice key, struct kv_slice pos);

/* Look `cursor` up for (kind, ns, key). True when known: `pos` (cleared first) receives a copy
 * of the saved position (which may be empty). False for 0, for an overwritten or never issued
 * cursor, and for one issued for another kind, namespace or key; `pos` is then cleared. */
bool scan_cursor_find(struct scan_cursor_table *t, uint64_t cursor, enum scan_cursor_kind kind,
                      struct kv_slice ns, struct kv_slice key, struct kv_buf *pos);

/* Parse a cursor argument the way Redis 7.0 does (strtoul over the whole text): optional '+'
 * or '-' then decimal digits, no leading blank, nothing after; "-1" wraps to 2^64-1, the
 * empty text is 0. KV_OK with *cursor set, or KV_ERR_INVALID (overflow, bad bytes). */
enum kv_code scan_cursor_parse(struct kv_slice text, uint64_t *cursor);

#ifdef __cplusplus
}
#endif

#endif
