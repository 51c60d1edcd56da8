/* SPDX-License-Identifier: Apache-2.0
 *
 * migrate: the pure pieces of slot migration (kvrocks-notes 4.6): parsing and printing slot
 * ranges with Kvrocks's error texts, the state names CLUSTER INFO prints, the RESP framing of
 * the commands the source sends, the classification of the destination's reply lines, and the
 * pacing rule of migrate-speed. No sockets, no storage, no threads: server/migrate_ctl.c drives
 * them.
 *
 * Threads: any; no shared state.
 */
#ifndef KV_CLUSTER_MIGRATE_H
#define KV_CLUSTER_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/nodes.h"
#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kvrocks's texts (src/cluster/slot_migrate.cc, cluster.cc), byte for byte. */
#define MIGRATE_ERR_RANGE "Invalid slot range"
#define MIGRATE_ERR_SLOT_ID "Invalid slot id: out of numeric range"
#define MIGRATE_ERR_BUSY "There is already a migrating job"
#define MIGRATE_ERR_NO_DST "Can't find the destination node id"
#define MIGRATE_ERR_MIGRATED "Can't migrate slot which has been migrated"
#define MIGRATE_ERR_NOT_MINE "Can't migrate slot which doesn't belong to me"
#define MIGRATE_ERR_SLAVE "Slave can't migrate slot"
#define MIGRATE_ERR_DST_SLAVE "Can't migrate slot to a slave"
#define MIGRATE_ERR_MYSELF "Can't migrate slot to myself"
#define MIGRATE_ERR_SYNC_TIMEOUT "Invalid timeout: must be a non-negative integer"
#define MIGRATE_ERR_ASYNC_TIMEOUT "Async migration does not support timeout"
#define MIGRATE_ERR_IMPORT_STATE "Invalid import state"
#define MIGRATE_ERR_IMPORT_SLAVE "Slave can't import slot"
#define MIGRATE_ERR_IMPORT_MINE "Can't import slot which belongs to me"
#define MIGRATE_ERR_IMPORT_BUSY "There is already an importing job"

/* Parse "<slot>" or "<start>-<end>" (decimal digits only, start <= end, both <= 16383).
 * Errors (KV_ERR_INVALID): a lone number above 16383 -> MIGRATE_ERR_SLOT_ID; anything else
 * malformed ("-1", "2-1", "3--1", "4-16384", "", "a") -> MIGRATE_ERR_RANGE. out untouched on
 * error; set on success. */
enum kv_code migrate_parse_range(struct kv_slice s, struct cluster_slot_range *out,
                                 struct kv_err *err);

/* "N" or "A-B" into buf (at least MIGRATE_RANGE_STR_MAX bytes); returns buf. An unset range
 * prints "". */
#define MIGRATE_RANGE_STR_MAX 16
const char *migrate_range_str(const struct cluster_slot_range *r, char *buf);

/* Whether two set ranges share a slot; whether r contains slot. */
bool migrate_range_overlaps(const struct cluster_slot_range *a, const struct cluster_slot_range *b);
bool migrate_range_contains(const struct cluster_slot_range *r, uint16_t slot);

/* States. Source: MIGRATE_NONE until the first migration, then START, SUCCESS or FAIL.
 * Destination: IMPORT_NONE, then START, SUCCESS or ERROR. */
enum migrate_state {
    MIGRATE_NONE = 0,
    MIGRATE_START,
    MIGRATE_SUCCESS,
    MIGRATE_FAIL,
};
enum import_state {
    IMPORT_NONE = 0,
    IMPORT_START,
    IMPORT_SUCCESS,
    IMPORT_ERROR,
};
/* "none", "start", "success", "fail" / "none", "start", "success", "error". */
const char *migrate_state_name(enum migrate_state s);
const char *import_state_name(enum import_state s);

/* Append one command as a RESP array of bulk strings to out. */
void migrate_resp_append(struct kv_buf *out, size_t argc, const struct kv_slice *argv);

/* What a reply line (terminator removed, as netio_read_line gives it) says:
 *   MIGRATE_REPLY_OK     "+..." or ":..." : done;
 *   MIGRATE_REPLY_ERROR  "-..."           : the command failed (text after '-');
 *   MIGRATE_REPLY_BULK   "$<n>" with n >= 0: n bytes and CRLF follow (*bulk_len = n);
 *                        "$-1" (nil) and "*-1" are MIGRATE_REPLY_OK;
 *   MIGRATE_REPLY_BAD    anything else (arrays included: no command we send returns one). */
enum migrate_reply_kind {
    MIGRATE_REPLY_OK,
    MIGRATE_REPLY_ERROR,
    MIGRATE_REPLY_BULK,
    MIGRATE_REPLY_BAD,
};
enum migrate_reply_kind migrate_reply_classify(struct kv_slice line, int64_t *bulk_len);

/* migrate-speed pacing: after `sent` commands in `elapsed_ms` since the pacing window started,
 * how long to wait before sending more so that the rate stays at most `speed` commands per
 * second (0 = unlimited: always 0). */
int64_t migrate_pace_delay_ms(uint64_t sent, int64_t elapsed_ms, int64_t speed);

#ifdef __cplusplus
}
#endif

#endif
