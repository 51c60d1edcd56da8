/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/wal.h"

#include <string.h>

#include <rocksdb/c.h>

#include "common/endian.h"
#include "common/mem.h"
#include "storage/storage_int.h"

struct wal_iter {
    struct storage *st;          /* borrowed */
    rocksdb_wal_iterator_t *it;  /* owned; NULL when it must be reopened */
    rocksdb_writebatch_t *batch; /* owned: the current batch, NULL before reading it */
    uint64_t batch_seq;
    uint64_t next_seq; /* first sequence of the batch expected next */
    uint64_t reopens;  /* times the RocksDB iterator was recreated after the open */
};

bool
wal_batch_header(struct kv_slice rep, uint64_t *seq, uint32_t *count)
{
    if (rep.len < 12)
        return false;
    const uint8_t *p = (const uint8_t *)rep.ptr;
    *seq = kv_get_u64le(p);
    *count = kv_get_u32le(p + 8);
    return true;
}

/* Open a RocksDB WAL iterator at seq; NULL (and err) when RocksDB refuses. */
static rocksdb_wal_iterator_t *
open_raw(struct storage *st, uint64_t seq, struct kv_err *err)
{
    char *errptr = NULL;
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(st->db, seq, NULL, &errptr);
    if (errptr != NULL) {
        kv_err_set(err, KV_ERR_WAL_GAP, "WAL unavailable at sequence %llu: %s",
                   (unsigned long long)seq, errptr);
        rocksdb_free(errptr);
        if (it != NULL)
            rocksdb_wal_iter_destroy(it);
        return NULL;
    }
    return it;
}

enum kv_code
wal_iter_open(struct storage *st, uint64_t seq, struct wal_iter **out, struct kv_err *err)
{
    uint64_t latest = rocksdb_get_latest_sequence_number(st->db);
    if (seq == 0 || seq > latest)
        return kv_err_set(err, KV_ERR_WAL_GAP, "sequence %llu is beyond the latest %llu",
                          (unsigned long long)seq, (unsigned long long)latest);
    rocksdb_wal_iterator_t *raw = open_raw(st, seq, err);
    if (raw == NULL)
        return KV_ERR_WAL_GAP;
    if (!rocksdb_wal_iter_valid(raw)) {
        rocksdb_wal_iter_destroy(raw);
        return kv_err_set(err, KV_ERR_WAL_GAP, "no WAL batch at sequence %llu",
                          (unsigned long long)seq);
    }
    uint64_t first = 0;
    rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(raw, &first);
    if (first != seq) {
        rocksdb_writebatch_destroy(wb);
        rocksdb_wal_iter_destroy(raw);
        return kv_err_set(err, KV_ERR_WAL_GAP,
                          "sequence %llu does not start a WAL batch (found %llu)",
                          (unsigned long long)seq, (unsigned long long)first);
    }
    struct wal_iter *it = kv_calloc(1, sizeof *it);
    it->st = st;
    it->it = raw;
    it->batch = wb;
    it->batch_seq = first;
    it->next_seq = seq;
    *out = it;
    return KV_OK;
}

uint64_t
wal_iter_reopens(const struct wal_iter *it)
{
    return it->reopens;
}

void
wal_iter_free(struct wal_iter *it)
{
    if (it == NULL)
        return;
    if (it->batch != NULL)
        rocksdb_writebatch_destroy(it->batch);
    if (it->it != NULL)
        rocksdb_wal_iter_destroy(it->it);
    kv_free(it);
}

/* Make it->it point at a batch, when the WAL holds one at or after it->next_seq. First try the
 * existing iterator: RocksDB's iterator, once past the end, reads records appended to its
 * current file since (Next re-reads the file tail up to the latest sequence), which is the
 * common case of a feeder following the writes. Only when that finds nothing although newer
 * sequences exist (the WAL moved to a new file, which an open iterator never sees) is the
 * iterator reopened at next_seq. KV_NOTFOUND when nothing can be read yet. */
static enum kv_code
position(struct wal_iter *it, bool *fresh, struct kv_err *err)
{
    *fresh = false;
    if (it->it != NULL && !rocksdb_wal_iter_valid(it->it))
        rocksdb_wal_iter_next(it->it);
    if (it->it != NULL && rocksdb_wal_iter_valid(it->it))
        return KV_OK;
    *fresh = true;
    if (it->it != NULL)
        rocksdb_wal_iter_destroy(it->it);
    it->it = open_raw(it->st, it->next_seq, err);
    if (it->it == NULL)
        return KV_ERR_WAL_GAP;
    if (!rocksdb_wal_iter_valid(it->it)) {
        char *errptr = NULL;
        rocksdb_wal_iter_status(it->it, &errptr);
        if (errptr != NULL)
            rocksdb_free(errptr);
        rocksdb_wal_iter_destroy(it->it);
        it->it = NULL;
        return KV_NOTFOUND;
    }
    it->reopens++;
    return KV_OK;
}

enum kv_code
wal_iter_batch(struct wal_iter *it, uint64_t *seq, uint32_t *count, struct kv_slice *rep,
               struct kv_err *err)
{
    if (it->batch == NULL) {
        if (rocksdb_get_latest_sequence_number(it->st->db) < it->next_seq)
            return KV_NOTFOUND;
        bool fresh;
        enum kv_code rc = position(it, &fresh, err);
        if (rc != KV_OK)
            return rc;
        uint64_t first = 0;
        it->batch = rocksdb_wal_iter_get_batch(it->it, &first);
        if (first != it->next_seq && !fresh) {
            /* The continued iterator went somewhere unexpected: trust only a fresh one. */
            rocksdb_writebatch_destroy(it->batch);
            it->batch = NULL;
            rocksdb_wal_iter_destroy(it->it);
            it->it = NULL;
            rc = position(it, &fresh, err);
            if (rc != KV_OK)
                return rc;
            it->batch = rocksdb_wal_iter_get_batch(it->it, &first);
        }
        it->batch_seq = first;
        if (first != it->next_seq) {
            rocksdb_writebatch_destroy(it->batch);
            it->batch = NULL;
            return kv_err_set(err, KV_ERR_WAL_GAP,
                              "WAL is discontinuous: expected batch at %llu, found %llu",
                              (unsigned long long)it->next_seq, (unsigned long long)first);
        }
    }
    size_t n = 0;
    const char *p = rocksdb_writebatch_data(it->batch, &n);
    *rep = kv_slice_make(p, n);
    *seq = it->batch_seq;
    *count = (uint32_t)rocksdb_writebatch_count(it->batch);
    return KV_OK;
}

void
wal_iter_next(struct wal_iter *it)
{
    if (it->batch == NULL)
        return;
    uint32_t count = (uint32_t)rocksdb_writebatch_count(it->batch);
    it->next_seq = it->batch_seq + count;
    rocksdb_writebatch_destroy(it->batch);
    it->batch = NULL;
    if (it->it != NULL)
        rocksdb_wal_iter_next(it->it);
}

enum kv_code
wal_can_resume(struct storage *st, uint64_t seq, struct kv_err *err)
{
    uint64_t latest = rocksdb_get_latest_sequence_number(st->db);
    if (seq == latest + 1)
        return KV_OK;
    struct wal_iter *it = NULL;
    enum kv_code rc = wal_iter_open(st, seq, &it, err);
    wal_iter_free(it);
    return rc;
}

uint64_t
wal_oldest_seq(struct storage *st)
{
    uint64_t latest = rocksdb_get_latest_sequence_number(st->db);
    if (latest == 0)
        return 0;
    struct kv_err err;
    rocksdb_wal_iterator_t *raw = open_raw(st, 1, &err);
    if (raw == NULL)
        return 0;
    uint64_t first = 0;
    if (rocksdb_wal_iter_valid(raw)) {
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(raw, &first);
        rocksdb_writebatch_destroy(wb);
    }
    rocksdb_wal_iter_destroy(raw);
    return first;
}
