/* SPDX-License-Identifier: Apache-2.0
 *
 * dict: separate chaining over a power-of-two bucket array. Each entry carries its key inline
 * and its full hash, so a resize never rehashes bytes and a lookup compares keys only on a hash
 * match. Invariants: nbuckets is 0 or a power of two; size <= nbuckets after every insert;
 * every entry sits in bucket (hash & (nbuckets - 1)).
 *
 * The hash folds 8 bytes at a time into the state with a 64x64->128-bit multiply whose halves
 * are xored, with both seeds mixed in; a final xorshift-multiply round spreads the high bits
 * into the low bits that select the bucket.
 *
 * Threads: the owner serialises access; the seed is set once under pthread_once.
 */
#include "common/dict.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

#define DICT_MIN_BUCKETS 8

struct dict_entry {
    struct dict_entry *next; /* owned: the rest of the chain */
    uint64_t hash;
    void *val; /* owned only when the table has free_val */
    size_t len;
    char key[]; /* len bytes, then a NUL */
};

struct dict {
    struct dict_entry **buckets; /* owned; nbuckets chain heads */
    size_t nbuckets;             /* 0 or a power of two */
    size_t size;                 /* number of entries */
    void (*free_val)(void *val); /* may be NULL */
    bool nocase;
};

static uint64_t hash_seed[2];
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static bool
read_urandom(void *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got == len;
}

static void
init_hash_seed(void)
{
    uint64_t seed[2];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed &&
        !read_urandom(seed, sizeof seed)) {
        /* No kernel randomness at all: still differ between processes. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
        seed[1] = (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&ts;
    }
    hash_seed[0] = seed[0];
    hash_seed[1] = seed[1] | 1;
}

static uint64_t
fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Load n <= 8 bytes as a word in native byte order (fine: hashes never leave the process),
 * zero-padded, with ASCII letters lower-cased when nocase. */
static uint64_t
load_word(const unsigned char *p, size_t n, bool nocase)
{
    unsigned char tmp[8] = {0};
    memcpy(tmp, p, n);
    if (nocase) {
        for (size_t i = 0; i < n; i++) {
            if (tmp[i] >= 'A' && tmp[i] <= 'Z')
                tmp[i] = (unsigned char)(tmp[i] + ('a' - 'A'));
        }
    }
    uint64_t w;
    memcpy(&w, tmp, sizeof w);
    return w;
}

static uint64_t
hash_bytes(const void *key, size_t len, bool nocase)
{
    pthread_once(&hash_seed_once, init_hash_seed);
    const uint64_t k0 = 0x9e3779b97f4a7c15ULL, k1 = 0xc2b2ae3d27d4eb4fULL;
    const unsigned char *p = key;
    uint64_t h = hash_seed[0] ^ fold_mul((uint64_t)len ^ k0, hash_seed[1]);
    size_t n = len;
    while (n >= 8) {
        h = fold_mul(h ^ load_word(p, 8, nocase), hash_seed[1] ^ k1);
        p += 8;
        n -= 8;
    }
    if (n > 0)
        h = fold_mul(h ^ load_word(p, n, nocase) ^ k0, hash_seed[1] ^ k1);
    h ^= h >> 32;
    h *= k0;
    h ^= h >> 29;
    return h;
}

uint64_t
dict_hash(const void *p, size_t len)
{
    return hash_bytes(p, len, false);
}

static bool
keys_equal(const struct dict *d, const struct dict_entry *e, uint64_t hash, const void *key,
           size_t len)
{
    if (e->hash != hash || e->len != len)
        return false;
    if (!d->nocase)
        return len == 0 || memcmp(e->key, key, len) == 0;
    const unsigned char *a = (const unsigned char *)e->key, *b = key;
    for (size_t i = 0; i < len; i++) {
        unsigned char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + ('a' - 'A'));
        if (x != y)
            return false;
    }
    return true;
}

/* The link that points at the entry for key (so it can be unlinked), or at the NULL that ends
 * its chain when the key is absent. Never NULL itself once the table has buckets. */
static struct dict_entry **
find_link(const struct dict *d, const void *key, size_t len, uint64_t hash)
{
    if (d->nbuckets == 0)
        return NULL;
    struct dict_entry **link = &d->buckets[hash & (d->nbuckets - 1)];
    while (*link != NULL && !keys_equal(d, *link, hash, key, len))
        link = &(*link)->next;
    return link;
}

static void
resize(struct dict *d, size_t nbuckets)
{
    struct dict_entry **fresh = kv_calloc(nbuckets, sizeof *fresh);
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct dict_entry *e = d->buckets[i];
        while (e != NULL) {
            struct dict_entry *next = e->next;
            size_t b = e->hash & (nbuckets - 1);
            e->next = fresh[b];
            fresh[b] = e;
            e = next;
        }
    }
    kv_free(d->buckets);
    d->buckets = fresh;
    d->nbuckets = nbuckets;
}

/* Make room for one more entry: grow at load factor 1, shrink when under 1/8 full. */
static void
prepare_insert(struct dict *d)
{
    size_t want = d->nbuckets ? d->nbuckets : DICT_MIN_BUCKETS;
    while (d->size + 1 > want)
        want *= 2;
    while (want > DICT_MIN_BUCKETS && (d->size + 1) * 8 < want)
        want /= 2;
    if (want != d->nbuckets)
        resize(d, want);
}

static void
insert_new(struct dict *d, const void *key, size_t len, uint64_t hash, void *val)
{
    prepare_insert(d);
    struct dict_entry *e = kv_malloc(sizeof *e + len + 1);
    e->hash = hash;
    e->val = val;
    e->len = len;
    if (len)
        memcpy(e->key, key, len);
    e->key[len] = '\0';
    size_t b = hash & (d->nbuckets - 1);
    e->next = d->buckets[b];
    d->buckets[b] = e;
    d->size++;
}

static void
release_value(const struct dict *d, void *val)
{
    if (d->free_val != NULL && val != NULL)
        d->free_val(val);
}

struct dict *
dict_new(void (*free_val)(void *val), bool nocase)
{
    struct dict *d = kv_calloc(1, sizeof *d);
    d->free_val = free_val;
    d->nocase = nocase;
    return d;
}

void
dict_free(struct dict *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct dict_entry *e = d->buckets[i];
        while (e != NULL) {
            struct dict_entry *next = e->next;
            release_value(d, e->val);
            kv_free(e);
            e = next;
        }
    }
    kv_free(d->buckets);
    kv_free(d);
}

size_t
dict_size(const struct dict *d)
{
    return d->size;
}

void *
dict_get(const struct dict *d, const void *key, size_t len)
{
    struct dict_entry **link = find_link(d, key, len, hash_bytes(key, len, d->nocase));
    return link != NULL && *link != NULL ? (*link)->val : NULL;
}

bool
dict_contains(const struct dict *d, const void *key, size_t len)
{
    struct dict_entry **link = find_link(d, key, len, hash_bytes(key, len, d->nocase));
    return link != NULL && *link != NULL;
}

enum kv_code
dict_add(struct dict *d, const void *key, size_t len, void *val)
{
    uint64_t hash = hash_bytes(key, len, d->nocase);
    struct dict_entry **link = find_link(d, key, len, hash);
    if (link != NULL && *link != NULL)
        return KV_ERR_EXISTS;
    insert_new(d, key, len, hash, val);
    return KV_OK;
}

void
dict_set(struct dict *d, const void *key, size_t len, void *val)
{
    uint64_t hash = hash_bytes(key, len, d->nocase);
    struct dict_entry **link = find_link(d, key, len, hash);
    if (link != NULL && *link != NULL) {
        void *old = (*link)->val;
        (*link)->val = val;
        if (old != val)
            release_value(d, old);
        return;
    }
    insert_new(d, key, len, hash, val);
}

enum kv_code
dict_take(struct dict *d, const void *key, size_t len, void **val)
{
    struct dict_entry **link = find_link(d, key, len, hash_bytes(key, len, d->nocase));
    if (link == NULL || *link == NULL)
        return KV_NOTFOUND;
    struct dict_entry *e = *link;
    *link = e->next;
    d->size--;
    *val = e->val;
    kv_free(e);
    return KV_OK;
}

enum kv_code
dict_delete(struct dict *d, const void *key, size_t len)
{
    void *val;
    enum kv_code rc = dict_take(d, key, len, &val);
    if (rc == KV_OK)
        release_value(d, val);
    return rc;
}

void
dict_iter_init(struct dict_iter *it, const struct dict *d)
{
    it->d = d;
    it->bucket = 0;
    it->entry = NULL;
}

bool
dict_iter_next(struct dict_iter *it, const void **key, size_t *len, void **val)
{
    /* The cursor already points past the entry it returns, so removing that entry is safe. */
    struct dict_entry *e = it->entry;
    while (e == NULL) {
        if (it->bucket >= it->d->nbuckets)
            return false;
        e = it->d->buckets[it->bucket++];
    }
    it->entry = e->next;
    if (key != NULL)
        *key = e->key;
    if (len != NULL)
        *len = e->len;
    if (val != NULL)
        *val = e->val;
    return true;
}
