/* SPDX-License-Identifier: Apache-2.0
 *
 * zset: the sorted set type (kvrocks-notes.md 2.2, 2.6). A sorted set is a metadata record of
 * type 5 whose size is the number of members, and two records per member, written and deleted
 * together in one batch:
 *     CF default:    [ns prefix][key_len u32][user key][version u64][member]            -> score
 *     CF zset_score: [ns prefix][key_len u32][user key][version u64][score][member]     -> ""
 * where score is the order-preserving 8-byte encoding of the double (zset_encode_score), so the
 * zset_score records of one key version iterate in Redis's order: by score, then by member bytes
 * (memcmp, a shorter prefix first). A negative zero is stored as +0 (Redis 7.0 answers "0" for it
 * in the small zsets clients usually see), so the two zeros never split the order.
 *
 * Access paths, chosen so a big zset is never loaded to touch part of it:
 *   - by member (ZSCORE, ZADD, ZREM, ZSCAN, lexicographic ranges): CF default, point reads or
 *     seeks to the member;
 *   - by score (ZRANGEBYSCORE, ZCOUNT, ZPOPMIN): CF zset_score, with iterator bounds that are the
 *     encoded range itself, so only the records returned (plus LIMIT's offset) are read;
 *   - by rank (ZRANGE, ZRANK): CF zset_score, walking from whichever end is nearer to the range
 *     (ranks are not indexed; as in Kvrocks a rank costs a walk over the entries before it).
 *   - ZCARD is the metadata's size; DEL and overwrites are O(1) through the version.
 * Lexicographic ranges follow the member order of CF default: the same as Redis's whenever all
 * members have the same score (the only case Redis defines).
 *
 * Rules of types/db.h: reads treat an expired key as absent, never delete, and read through one
 * snapshot (db->snap, or one taken for the call); a write locks all its keys in one keylock_lock
 * call, reads under the lock, and writes everything in one batch through db_write, which reports
 * the keys it changed. A zset whose last member goes is deleted (its metadata record removed).
 * Writes keep the key's expiry, except the STORE operations, whose destination is replaced.
 * Codes:
 *     KV_NOTFOUND       the key (or member) is absent: an outcome, not an error
 *     KV_ERR_WRONGTYPE  a key holds another type (err->msg empty: the caller words it)
 *     KV_ERR_RANGE      ZADD INCR would produce NaN (nothing is written)
 *     KV_ERR_INVALID    a range argument does not parse (zset_parse_*)
 *     KV_ERR_IO / KV_ERR_CORRUPT from storage
 * Output parameters are left unchanged on failure unless stated otherwise.
 *
 * Nothing here knows about clients or RESP.
 *
 * Threads: any worker thread; no state of its own.
 */
#ifndef KV_TYPES_ZSET_H
#define KV_TYPES_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"
#include "types/db.h"
#include "types/subkey.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- score encoding --- */

#define ZSET_SCORE_LEN 8

/* The order-preserving encoding of a score: the IEEE-754 bits, all inverted when the sign bit is
 * set, else with the sign bit set; big-endian. -0 encodes as +0. `out` receives ZSET_SCORE_LEN
 * bytes. Encodings compare (memcmp) as the scores do, -inf lowest and +inf highest. */
void zset_encode_score(double score, char *out);
/* The score of an encoding (ZSET_SCORE_LEN bytes at `in`). */
double zset_decode_score(const char *in);

/* --- ranges --- */

/* A score interval: min and max, each inclusive or exclusive ("(1.5"). */
struct zset_score_range {
    double min, max;
    bool minex, maxex;
};

/* Parse ZRANGEBYSCORE-style bounds as Redis 7.0's zslParseRange: an optional "(" (exclusive),
 * then what strtod accepts over the rest read as a C string (so leading blanks, "inf", "-inf",
 * "1e400" (= inf), and the empty rest (= 0) are accepted, and an embedded NUL ends the text);
 * trailing bytes and NaN are refused. KV_OK, or KV_ERR_INVALID. */
enum kv_code zset_parse_score_range(struct kv_slice min, struct kv_slice max,
                                    struct zset_score_range *out);
/* Whether no score can be in r (min > max, or min == max with an exclusive end). */
bool zset_score_range_is_empty(const struct zset_score_range *r);
/* Whether score s is in r. */
bool zset_score_in_range(const struct zset_score_range *r, double s);

enum zset_lex_kind {
    ZSET_LEX_VALUE,   /* "[member" or "(member" */
    ZSET_LEX_NEG_INF, /* "-": below every member */
    ZSET_LEX_POS_INF, /* "+": above every member */
};

struct zset_lex_bound {
    enum zset_lex_kind kind;
    struct kv_slice value; /* ZSET_LEX_VALUE: the member bytes (borrowed from the argument) */
    bool ex;               /* exclusive: "(" (and the infinities) */
};

struct zset_lex_range {
    struct zset_lex_bound min, max;
};

/* Parse ZRANGEBYLEX-style bounds as Redis 7.0's zslParseLexRange: "+" and "-" (alone; a NUL
 * after them counts as the end, as in C), or "(" / "[" followed by any bytes. Everything else,
 * the empty string included, is KV_ERR_INVALID. The values borrow from min and max. */
enum kv_code zset_parse_lex_range(struct kv_slice min, struct kv_slice max,
                                  struct zset_lex_range *out);
/* Whether no member can be in r. */
bool zset_lex_range_is_empty(const struct zset_lex_range *r);

/* --- result lists --- */

struct zset_entry {
    size_t off, len; /* the member bytes within the list's buffer */
    double score;
};

/* (member, score) pairs copied back to back. A zeroed struct (ZSET_LIST_INIT) is empty. */
struct zset_list {
    struct kv_buf bytes;      /* owned */
    struct zset_entry *items; /* owned; n used, cap allocated */
    size_t n;
    size_t cap;
};

#define ZSET_LIST_INIT                                                                             \
    {                                                                                              \
        KV_BUF_INIT, NULL, 0, 0                                                                    \
    }

void zset_list_deinit(struct zset_list *l); /* frees and leaves an empty list */
void zset_list_add(struct zset_list *l, struct kv_slice member, double score);
/* The i-th member: borrowed until the list changes. */
struct kv_slice zset_list_member(const struct zset_list *l, size_t i);
/* Sort by (score, member) as a sorted set orders them (-0 == +0). */
void zset_list_sort(struct zset_list *l);

/* --- range specifications (ZRANGE and friends) --- */

enum zset_by {
    ZSET_BY_RANK,
    ZSET_BY_SCORE,
    ZSET_BY_LEX,
};

struct zset_range_spec {
    enum zset_by by;
    bool reverse;                  /* from the highest: ranks count from the end, and results
                                      come highest first */
    int64_t start, stop;           /* ZSET_BY_RANK: inclusive, negative counts from the end */
    struct zset_score_range score; /* ZSET_BY_SCORE */
    struct zset_lex_range lex;     /* ZSET_BY_LEX */
    int64_t offset;                /* SCORE/LEX: skip this many matches first; < 0: no result */
    int64_t limit;                 /* SCORE/LEX: at most this many results; < 0: no limit */
};

/* A spec for `by` with no LIMIT (offset 0, limit -1), forward; the caller fills the range. */
void zset_range_spec_init(struct zset_range_spec *spec, enum zset_by by);

/* --- reads --- */

/* ZCARD: the number of members (0 when absent), from the metadata. KV_ERR_WRONGTYPE. */
enum kv_code zset_card(struct db *db, struct kv_slice key, uint64_t *card, struct kv_err *err);

/* ZSCORE: the score of `member`. KV_NOTFOUND when the key or the member is absent,
 * KV_ERR_WRONGTYPE. */
enum kv_code zset_score(struct db *db, struct kv_slice key, struct kv_slice member, double *score,
                        struct kv_err *err);

/* ZMSCORE: found[i] and scores[i] for each of members[0..n) (all not found when the key is
 * absent), from one consistent view. KV_ERR_WRONGTYPE. */
enum kv_code zset_mscore(struct db *db, struct kv_slice key, const struct kv_slice *members,
                         size_t n, double *scores, bool *found, struct kv_err *err);

/* ZRANK / ZREVRANK: the 0-based rank of `member` from the lowest (or, reverse, the highest), and
 * its score. Walks the entries before it. KV_NOTFOUND when the key or member is absent,
 * KV_ERR_WRONGTYPE. */
enum kv_code zset_rank(struct db *db, struct kv_slice key, struct kv_slice member, bool reverse,
                       uint64_t *rank, double *score, struct kv_err *err);

/* ZRANGE and its older forms: append the members of `spec` to `out`, in the spec's order (for a
 * reverse spec, highest first). An absent key gives nothing (KV_OK). KV_ERR_WRONGTYPE. */
enum kv_code zset_range(struct db *db, struct kv_slice key, const struct zset_range_spec *spec,
                        struct zset_list *out, struct kv_err *err);

/* ZCOUNT / ZLEXCOUNT (a SCORE or LEX spec; offset and limit are applied too): the number of
 * members in the range, walking them without copying. 0 when absent. KV_ERR_WRONGTYPE. */
enum kv_code zset_count(struct db *db, struct kv_slice key, const struct zset_range_spec *spec,
                        uint64_t *count, struct kv_err *err);

/* ZSCAN: visit members in byte order, as subkey_scan does (the arguments after `key` are its
 * own); each value given to fn is the member's encoded score (ZSET_SCORE_LEN bytes: decode with
 * zset_decode_score). KV_NOTFOUND when the key is absent (*done true, `last` empty),
 * KV_ERR_WRONGTYPE. */
enum kv_code zset_scan(struct db *db, struct kv_slice key, const struct kv_slice *after,
                       struct kv_slice pattern, size_t limit, subkey_fn fn, void *arg,
                       struct kv_buf *last, bool *done, struct kv_err *err);

/* ZRANDMEMBER: `count` random members as subkey_sample picks them (distinct or with
 * repetitions); each entry's value is the encoded score. `out` must be zeroed; free it with
 * subkey_sample_deinit. KV_NOTFOUND when absent, KV_ERR_WRONGTYPE. */
enum kv_code zset_random(struct db *db, struct kv_slice key, uint64_t count, bool distinct,
                         struct subkey_sample *out, struct kv_err *err);

/* --- combinations (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD) --- */

enum zset_op {
    ZSET_OP_UNION,
    ZSET_OP_INTER,
    ZSET_OP_DIFF, /* keys[0] minus all the others, with keys[0]'s scores */
};

enum zset_aggregate {
    ZSET_AGG_SUM,
    ZSET_AGG_MIN,
    ZSET_AGG_MAX,
};

/* The inputs of a combination. Sets count as zsets whose scores are all 1. */
struct zset_sources {
    const struct kv_slice *keys; /* n >= 1 keys (a key may repeat) */
    size_t n;
    const double *weights; /* n weights, or NULL for all 1 (DIFF ignores them) */
    enum zset_aggregate aggregate;
};

/* KV_ERR_WRONGTYPE when any of keys[0..n) is live with a type other than zset or set (Redis
 * checks the inputs before it parses the options that follow them). */
enum kv_code zset_check_sources(struct db *db, const struct kv_slice *keys, size_t n,
                                struct kv_err *err);

/* ZUNION / ZINTER / ZDIFF: the combination of the sources, into `out` sorted by (score,
 * member), from one consistent view. As Redis 7.0: each input score is multiplied by its
 * key's weight (a NaN product counts as 0); the inputs are folded smallest first (fewest
 * members; equal sizes in argument order), SUM of +inf and -inf giving 0. Absent keys are
 * empty. KV_ERR_WRONGTYPE (nothing computed). */
enum kv_code zset_combine(struct db *db, enum zset_op op, const struct zset_sources *src,
                          struct zset_list *out, struct kv_err *err);

/* ZINTERCARD: the size of the intersection, stopping at `limit` (0 = no limit). */
enum kv_code zset_inter_card(struct db *db, const struct kv_slice *keys, size_t n, uint64_t limit,
                             uint64_t *card, struct kv_err *err);

/* ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE: compute as zset_combine and replace dst, whatever it
 * holds (expiry dropped), with the result in one batch; an empty result deletes dst. dst may be
 * one of the sources. *card = the result's size. KV_ERR_WRONGTYPE leaves dst untouched. */
enum kv_code zset_combine_store(struct db *db, enum zset_op op, struct kv_slice dst,
                                const struct zset_sources *src, uint64_t *card, struct kv_err *err);

/* --- writes --- */

#define ZSET_ADD_NX (1u << 0)   /* only add new members */
#define ZSET_ADD_XX (1u << 1)   /* only update existing members */
#define ZSET_ADD_GT (1u << 2)   /* update only when the new score is greater */
#define ZSET_ADD_LT (1u << 3)   /* update only when the new score is less */
#define ZSET_ADD_INCR (1u << 4) /* add the score to the existing one (ZINCRBY) */

struct zset_add_result {
    uint64_t added;   /* members created */
    uint64_t updated; /* existing members whose score changed */
    bool processed;   /* the last pair was not skipped by NX/XX/GT/LT (INCR's nil reply) */
    double score;     /* the last processed pair's new score (INCR's reply; may be -0) */
};

/* ZADD / ZINCRBY: apply (scores[i], members[i]) for i in 0..n, in order, as Redis 7.0's zsetAdd
 * does one pair after the other (ZADD k 1 a 2 a adds a, then updates it), under the ZSET_ADD_*
 * flags (the caller has refused the incompatible combinations; NaN scores are the caller's to
 * refuse). With XX an absent key stays absent. KV_ERR_RANGE when INCR yields NaN (nothing
 * written), KV_ERR_WRONGTYPE. */
enum kv_code zset_add(struct db *db, struct kv_slice key, const double *scores,
                      const struct kv_slice *members, size_t n, unsigned flags,
                      struct zset_add_result *res, struct kv_err *err);

/* ZREM: *removed = members removed (a member named twice counts once). Removing the last member
 * deletes the key. KV_ERR_WRONGTYPE. */
enum kv_code zset_remove(struct db *db, struct kv_slice key, const struct kv_slice *members,
                         size_t n, uint64_t *removed, struct kv_err *err);

/* ZREMRANGEBYRANK / BYSCORE / BYLEX: remove the members of `spec` (its direction, offset and
 * limit are honoured too). *removed = how many (0 when absent). KV_ERR_WRONGTYPE. */
enum kv_code zset_remove_range(struct db *db, struct kv_slice key,
                               const struct zset_range_spec *spec, uint64_t *removed,
                               struct kv_err *err);

/* ZPOPMIN / ZPOPMAX / ZMPOP / BZPOPMIN / BZPOPMAX / BZMPOP: look at keys[0..n) in order; the first
 * live one is popped: up to `count` (>= 1) members with the lowest (or, max, highest) scores are
 * removed and appended to `out` in pop order, and *which receives that key's index. KV_NOTFOUND
 * when no key is live. A key of another type met before that is KV_ERR_WRONGTYPE, unless
 * skip_other_types (a blocked client's retry, which Redis keeps waiting) skips it. */
enum kv_code zset_pop(struct db *db, const struct kv_slice *keys, size_t n, bool max,
                      uint64_t count, bool skip_other_types, size_t *which, struct zset_list *out,
                      struct kv_err *err);

/* ZRANGESTORE: compute zset_range(src, spec) and replace dst (whatever it holds, expiry dropped)
 * with the result; an empty result deletes dst. *card = the result's size. KV_ERR_WRONGTYPE
 * (src) leaves dst untouched. */
enum kv_code zset_range_store(struct db *db, struct kv_slice dst, struct kv_slice src,
                              const struct zset_range_spec *spec, uint64_t *card,
                              struct kv_err *err);

#ifdef __cplusplus
}
#endif

#endif
