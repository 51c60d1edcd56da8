/* SPDX-License-Identifier: Apache-2.0
 *
 * config: one static table of options drives everything: defaults (config_new), parsing (file
 * lines, `--name value` overrides, CONFIG SET), formatting (CONFIG GET, REWRITE) and the listing
 * used by tests. There is no per-option code except for the few kinds that need it (`slaveof`
 * fills two fields, `bind` is a list, `log-level` goes through common/log.h).
 *
 * Not done here: acting on a change (the server's apply hook does that), namespaces and
 * rename-command (not supported; they are unknown options).
 *
 * Threads: see config.h. This file keeps no global mutable state.
 *
 * Invariants: every string field is a kv_malloc'd NUL-terminated string (never NULL after
 * config_new); every field holds a value its row accepts, so formatting a field and parsing the
 * text back gives the same field (used by the runtime rollback and by the rewrite round trip).
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/glob.h"
#include "common/log.h"
#include "common/mem.h"

enum opt_type {
    OPT_BOOL,      /* bool; yes/no */
    OPT_INT,       /* int within [min, max] */
    OPT_INT64,     /* int64_t within [min, max], optionally with memory units */
    OPT_STRING,    /* char *; one word (quote it when it has spaces) */
    OPT_LIST,      /* char *; space-separated words, stored joined by one space */
    OPT_ENUM,      /* int; index into `names` */
    OPT_LOG_LEVEL, /* int; enum log_level */
    OPT_SLAVEOF,   /* slaveof_host + slaveof_port; `host port`, empty or `no one` = none */
};

struct config_option {
    const char *name; /* canonical, lower case */
    enum opt_type type;
    size_t offset; /* of the field in struct config */
    const char *default_text;
    bool is_mutable;          /* CONFIG SET allowed */
    int64_t min, max;         /* OPT_INT, OPT_INT64 */
    bool memory_units;        /* OPT_INT64: accept k/kb/m/mb/g/gb */
    const char *const *names; /* OPT_ENUM: NULL-terminated, index = value */
};

static const char *const migrate_type_names[] = {"redis-command", "raw-key-value", NULL};
static const char *const compression_names[] = {"no", "snappy", "zlib", "lz4", "zstd", NULL};

/* The offset of field `f`, which must have C type `t`: a mismatch between the row's kind and the
 * field's declared type is a compile error (no association in _Generic). */
#define FIELD(f, t) _Generic(((struct config *)0)->f, t : offsetof(struct config, f))

#define MUTABLE true
#define IMMUTABLE false

#define BOOL_OPT(n, f, def, mut)                                                                   \
    {                                                                                              \
        .name = n, .type = OPT_BOOL, .offset = FIELD(f, bool), .default_text = def,                \
        .is_mutable = mut                                                                          \
    }
#define INT_OPT(n, f, def, mut, lo, hi)                                                            \
    {                                                                                              \
        .name = n, .type = OPT_INT, .offset = FIELD(f, int), .default_text = def,                  \
        .is_mutable = mut, .min = lo, .max = hi                                                    \
    }
#define MEM_OPT(n, f, def, mut, lo, hi)                                                            \
    {                                                                                              \
        .name = n, .type = OPT_INT64, .offset = FIELD(f, int64_t), .default_text = def,            \
        .is_mutable = mut, .min = lo, .max = hi, .memory_units = true                              \
    }
#define STR_OPT(n, f, def, mut)                                                                    \
    {                                                                                              \
        .name = n, .type = OPT_STRING, .offset = FIELD(f, char *), .default_text = def,            \
        .is_mutable = mut                                                                          \
    }
#define LIST_OPT(n, f, def, mut)                                                                   \
    {                                                                                              \
        .name = n, .type = OPT_LIST, .offset = FIELD(f, char *), .default_text = def,              \
        .is_mutable = mut                                                                          \
    }
#define ENUM_OPT(n, f, def, mut, nm)                                                               \
    {                                                                                              \
        .name = n, .type = OPT_ENUM, .offset = FIELD(f, int), .default_text = def,                 \
        .is_mutable = mut, .names = nm                                                             \
    }

#define MIB (INT64_C(1) << 20)

/* Names, defaults and mutability are Kvrocks' (kvrocks-notes.md 5.2); kvrocks.conf documents
 * every row and test_config.cc checks that the two agree. */
static const struct config_option options[] = {
    /* network */
    LIST_OPT("bind", bind, "127.0.0.1", IMMUTABLE),
    INT_OPT("port", port, "6666", IMMUTABLE, 1, 65535),
    INT_OPT("workers", workers, "8", MUTABLE, 1, 256),
    INT_OPT("tcp-backlog", tcp_backlog, "511", IMMUTABLE, 0, INT_MAX),
    INT_OPT("maxclients", maxclients, "10240", MUTABLE, 1, INT_MAX),
    INT_OPT("timeout", timeout, "0", MUTABLE, 0, INT_MAX),
    MEM_OPT("proto-max-bulk-len", proto_max_bulk_len, "536870912", MUTABLE, MIB, INT64_MAX),
    INT_OPT("max-bitmap-to-string-mb", max_bitmap_to_string_mb, "16", MUTABLE, 0, INT_MAX),

    /* process */
    BOOL_OPT("daemonize", daemonize, "no", IMMUTABLE),
    STR_OPT("pidfile", pidfile, "", IMMUTABLE),
    STR_OPT("dir", dir, "/tmp/kvrocks", IMMUTABLE),
    STR_OPT("db-name", db_name, "change.me.db", IMMUTABLE),
    STR_OPT("log-dir", log_dir, "", IMMUTABLE),
    {.name = "log-level",
     .type = OPT_LOG_LEVEL,
     .offset = FIELD(log_level, int),
     .default_text = "info",
     .is_mutable = MUTABLE},
    STR_OPT("requirepass", requirepass, "", MUTABLE),
    INT_OPT("slowlog-log-slower-than", slowlog_log_slower_than, "200000", MUTABLE, -1, INT_MAX),
    INT_OPT("slowlog-max-len", slowlog_max_len, "128", MUTABLE, 0, INT_MAX),
    BOOL_OPT("resp3-enabled", resp3_enabled, "no", MUTABLE),

    /* replication */
    STR_OPT("masterauth", masterauth, "", MUTABLE),
    {.name = "slaveof",
     .type = OPT_SLAVEOF,
     .offset = FIELD(slaveof_host, char *),
     .default_text = "",
     .is_mutable = IMMUTABLE},
    BOOL_OPT("slave-read-only", slave_read_only, "yes", MUTABLE),
    BOOL_OPT("slave-serve-stale-data", slave_serve_stale_data, "yes", MUTABLE),
    BOOL_OPT("slave-empty-db-before-fullsync", slave_empty_db_before_fullsync, "no", MUTABLE),
    INT_OPT("max-replication-mb", max_replication_mb, "0", MUTABLE, 0, INT_MAX),
    INT_OPT("replication-connect-timeout-ms", replication_connect_timeout_ms, "3100", MUTABLE, 1,
            INT_MAX),
    INT_OPT("replication-recv-timeout-ms", replication_recv_timeout_ms, "3200", MUTABLE, 1,
            INT_MAX),
    INT_OPT("replication-send-timeout-ms", replication_send_timeout_ms, "30000", MUTABLE, 1,
            INT_MAX),
    INT_OPT("max-replication-lag", max_replication_lag, "100000000", MUTABLE, 0, INT_MAX),

    /* cluster */
    BOOL_OPT("cluster-enabled", cluster_enabled, "no", IMMUTABLE),
    BOOL_OPT("persist-cluster-nodes-enabled", persist_cluster_nodes_enabled, "yes", MUTABLE),
    INT_OPT("migrate-speed", migrate_speed, "4096", MUTABLE, 0, INT_MAX),
    INT_OPT("migrate-pipeline-size", migrate_pipeline_size, "16", MUTABLE, 1, 65536),
    INT_OPT("migrate-sequence-gap", migrate_sequence_gap, "10000", MUTABLE, 1, INT_MAX),
    ENUM_OPT("migrate-type", migrate_type, "redis-command", MUTABLE, migrate_type_names),

    /* rocksdb */
    INT_OPT("row-cache-size", row_cache_size, "64", IMMUTABLE, 0, 65536),
    INT_OPT("rocksdb.block_cache_size", rocksdb_block_cache_size, "4096", IMMUTABLE, 1, INT_MAX),
    INT_OPT("rocksdb.write_buffer_size", rocksdb_write_buffer_size, "64", MUTABLE, 1, 4096),
    INT_OPT("rocksdb.max_write_buffer_number", rocksdb_max_write_buffer_number, "4", MUTABLE, 1,
            256),
    INT_OPT("rocksdb.target_file_size_base", rocksdb_target_file_size_base, "128", MUTABLE, 1,
            1024),
    INT_OPT("rocksdb.max_open_files", rocksdb_max_open_files, "8096", MUTABLE, -1, INT_MAX),
    INT_OPT("rocksdb.max_background_jobs", rocksdb_max_background_jobs, "4", MUTABLE, 1, 32),
    ENUM_OPT("rocksdb.compression", rocksdb_compression, "no", MUTABLE, compression_names),
    INT_OPT("rocksdb.block_size", rocksdb_block_size, "16384", IMMUTABLE, 1, INT_MAX),
    INT_OPT("rocksdb.wal_ttl_seconds", rocksdb_wal_ttl_seconds, "10800", IMMUTABLE, 0, INT_MAX),
    INT_OPT("rocksdb.wal_size_limit_mb", rocksdb_wal_size_limit_mb, "16384", IMMUTABLE, 0, INT_MAX),
    INT_OPT("rocksdb.max_total_wal_size", rocksdb_max_total_wal_size, "512", MUTABLE, 0, INT_MAX),
    BOOL_OPT("rocksdb.disable_auto_compactions", rocksdb_disable_auto_compactions, "no", MUTABLE),
    INT_OPT("rocksdb.level0_slowdown_writes_trigger", rocksdb_level0_slowdown_writes_trigger, "20",
            MUTABLE, 1, 1024),
    INT_OPT("rocksdb.level0_stop_writes_trigger", rocksdb_level0_stop_writes_trigger, "40", MUTABLE,
            1, 1024),
    INT_OPT("rocksdb.level0_file_num_compaction_trigger",
            rocksdb_level0_file_num_compaction_trigger, "4", MUTABLE, 1, 1024),
    BOOL_OPT("rocksdb.write_options.sync", rocksdb_write_options_sync, "no", IMMUTABLE),
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

/* The comment line put before options that CONFIG REWRITE appends. */
static const char rewrite_banner[] = "# Generated by CONFIG REWRITE";

static void *
field_ptr(struct config *cfg, const struct config_option *opt)
{
    return (char *)cfg + opt->offset;
}

static const void *
field_cptr(const struct config *cfg, const struct config_option *opt)
{
    return (const char *)cfg + opt->offset;
}

static const struct config_option *
find_option(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strcasecmp(options[i].name, name) == 0)
            return &options[i];
    }
    return NULL;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void
replace_string(char **slot, const char *value, size_t len)
{
    char *copy = kv_memdup(value, len);
    kv_free(*slot);
    *slot = copy;
}

/* Decimal integer with an optional '-', no spaces, no '+'. */
static bool
parse_int64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return false;
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (*p != '\0')
        return false;
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

/* A decimal count of bytes with an optional Redis memory unit: k/m/g are powers of 1000,
 * kb/mb/gb powers of 1024 (case-insensitive). Negative values are plain numbers only. */
static bool
parse_memory(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    size_t digits = len;
    while (digits > 0 && !(s[digits - 1] >= '0' && s[digits - 1] <= '9'))
        digits--;
    const char *unit = s + digits;
    int64_t mul = 1;
    if (*unit != '\0') {
        if (strcasecmp(unit, "k") == 0)
            mul = 1000;
        else if (strcasecmp(unit, "kb") == 0)
            mul = INT64_C(1) << 10;
        else if (strcasecmp(unit, "m") == 0)
            mul = 1000 * 1000;
        else if (strcasecmp(unit, "mb") == 0)
            mul = INT64_C(1) << 20;
        else if (strcasecmp(unit, "g") == 0)
            mul = 1000 * 1000 * 1000;
        else if (strcasecmp(unit, "gb") == 0)
            mul = INT64_C(1) << 30;
        else
            return false;
    }
    char num[32];
    if (digits == 0 || digits >= sizeof num)
        return false;
    memcpy(num, s, digits);
    num[digits] = '\0';
    int64_t v;
    if (!parse_int64(num, &v))
        return false;
    if (mul != 1 && (v < 0 || v > INT64_MAX / mul))
        return false;
    *out = v * mul;
    return true;
}

static enum kv_code
invalid_value(const struct config_option *opt, const char *value, const char *why,
              struct kv_err *err)
{
    return kv_err_set(err, KV_ERR_INVALID, "invalid value '%s' for '%s': %s", value, opt->name,
                      why);
}

static enum kv_code
out_of_range(const struct config_option *opt, const char *value, struct kv_err *err)
{
    return kv_err_set(err, KV_ERR_INVALID,
                      "invalid value '%s' for '%s': must be between %lld and %lld", value,
                      opt->name, (long long)opt->min, (long long)opt->max);
}

/* Split on blanks into `out` as words joined by single spaces. Returns the word count. */
static size_t
normalize_words(const char *value, struct kv_buf *out)
{
    size_t n = 0;
    const char *p = value;
    kv_buf_clear(out);
    for (;;) {
        while (*p != '\0' && is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (n > 0)
            kv_buf_append_byte(out, ' ');
        kv_buf_append(out, start, (size_t)(p - start));
        n++;
    }
    return n;
}

static enum kv_code
set_slaveof(struct config *cfg, const struct config_option *opt, const char *value,
            struct kv_err *err)
{
    struct kv_buf words = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    size_t n = normalize_words(value, &words);
    if (n == 0 || strcasecmp(words.ptr, "no one") == 0) {
        replace_string(&cfg->slaveof_host, "", 0);
        cfg->slaveof_port = 0;
        goto out;
    }
    char *sp = n == 2 ? strchr(words.ptr, ' ') : NULL;
    if (sp == NULL) {
        rc = invalid_value(opt, value, "expected '<host> <port>'", err);
        goto out;
    }
    int64_t port;
    if (!parse_int64(sp + 1, &port) || port < 1 || port > 65535) {
        rc = invalid_value(opt, value, "port must be between 1 and 65535", err);
        goto out;
    }
    replace_string(&cfg->slaveof_host, words.ptr, (size_t)(sp - words.ptr));
    cfg->slaveof_port = (int)port;
out:
    kv_buf_deinit(&words);
    return rc;
}

/* Parse `value` for `opt` and store it; on error the field is unchanged. */
static enum kv_code
set_option(struct config *cfg, const struct config_option *opt, const char *value,
           struct kv_err *err)
{
    void *field = field_ptr(cfg, opt);
    int64_t v;
    switch (opt->type) {
    case OPT_BOOL:
        if (strcasecmp(value, "yes") == 0)
            *(bool *)field = true;
        else if (strcasecmp(value, "no") == 0)
            *(bool *)field = false;
        else
            return invalid_value(opt, value, "expected yes or no", err);
        return KV_OK;
    case OPT_INT:
    case OPT_INT64:
        if (!(opt->memory_units ? parse_memory(value, &v) : parse_int64(value, &v)))
            return invalid_value(opt, value, "not an integer", err);
        if (v < opt->min || v > opt->max)
            return out_of_range(opt, value, err);
        if (opt->type == OPT_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = v;
        return KV_OK;
    case OPT_STRING:
        replace_string((char **)field, value, strlen(value));
        return KV_OK;
    case OPT_LIST: {
        struct kv_buf words = KV_BUF_INIT;
        normalize_words(value, &words);
        /* Kvrocks listens on 127.0.0.1 when bind is empty (there are no unix sockets here). */
        if (words.len == 0)
            replace_string((char **)field, opt->default_text, strlen(opt->default_text));
        else
            replace_string((char **)field, words.ptr, words.len);
        kv_buf_deinit(&words);
        return KV_OK;
    }
    case OPT_ENUM:
        for (int i = 0; opt->names[i] != NULL; i++) {
            if (strcasecmp(value, opt->names[i]) == 0) {
                *(int *)field = i;
                return KV_OK;
            }
        }
        {
            char expected[128] = "expected one of";
            for (int i = 0; opt->names[i] != NULL; i++) {
                size_t used = strlen(expected);
                snprintf(expected + used, sizeof expected - used, "%s %s", i == 0 ? "" : ",",
                         opt->names[i]);
            }
            return invalid_value(opt, value, expected, err);
        }
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(value);
        if (level == -2)
            return invalid_value(opt, value, "expected one of debug, info, warning, error, fatal",
                                 err);
        *(int *)field = level;
        return KV_OK;
    }
    case OPT_SLAVEOF:
        return set_slaveof(cfg, opt, value, err);
    }
    return kv_err_set(err, KV_ERR, "option '%s' has no type", opt->name);
}

/* The text form of the current value (CONFIG GET), appended to `out` after clearing it. */
static void
format_option(const struct config *cfg, const struct config_option *opt, struct kv_buf *out)
{
    const void *field = field_cptr(cfg, opt);
    kv_buf_clear(out);
    switch (opt->type) {
    case OPT_BOOL:
        kv_buf_append_cstr(out, *(const bool *)field ? "yes" : "no");
        break;
    case OPT_INT:
        kv_buf_printf(out, "%d", *(const int *)field);
        break;
    case OPT_INT64:
        kv_buf_printf(out, "%lld", (long long)*(const int64_t *)field);
        break;
    case OPT_STRING:
    case OPT_LIST:
        kv_buf_append_cstr(out, *(char *const *)field);
        break;
    case OPT_ENUM:
        kv_buf_append_cstr(out, opt->names[*(const int *)field]);
        break;
    case OPT_LOG_LEVEL:
        kv_buf_append_cstr(out, log_level_name((enum log_level)(*(const int *)field)));
        break;
    case OPT_SLAVEOF:
        if (cfg->slaveof_host[0] != '\0')
            kv_buf_printf(out, "%s %d", cfg->slaveof_host, cfg->slaveof_port);
        break;
    }
    if (out->ptr == NULL)
        kv_buf_reserve(out, 1); /* callers may read ptr as a C string */
}

/* Does a word need quotes to be read back as the same single word? */
static bool
word_needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '\\')
            return true;
    }
    return false;
}

static void
append_word(struct kv_buf *out, const char *s, size_t len)
{
    if (!word_needs_quotes(s, len)) {
        kv_buf_append(out, s, len);
        return;
    }
    kv_buf_append_byte(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
        case '\\':
            kv_buf_append_byte(out, '\\');
            kv_buf_append_byte(out, c);
            break;
        case '\n':
            kv_buf_append_cstr(out, "\\n");
            break;
        case '\r':
            kv_buf_append_cstr(out, "\\r");
            break;
        case '\t':
            kv_buf_append_cstr(out, "\\t");
            break;
        default:
            if (c < ' ' || c == 0x7f)
                kv_buf_printf(out, "\\x%02x", c);
            else
                kv_buf_append_byte(out, c);
        }
    }
    kv_buf_append_byte(out, '"');
}

/* `name value` as a config file line (no newline), quoting where the reader needs it. List
 * values are written as separate words; an empty value is written as "". */
static void
append_line(const struct config *cfg, const struct config_option *opt, struct kv_buf *out)
{
    struct kv_buf value = KV_BUF_INIT;
    format_option(cfg, opt, &value);
    kv_buf_append_cstr(out, opt->name);
    kv_buf_append_byte(out, ' ');
    if ((opt->type == OPT_LIST || opt->type == OPT_SLAVEOF) && value.len > 0) {
        const char *p = value.ptr;
        const char *end = value.ptr + value.len;
        while (p < end) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *stop = sp != NULL ? sp : end;
            if (p != value.ptr)
                kv_buf_append_byte(out, ' ');
            append_word(out, p, (size_t)(stop - p));
            p = sp != NULL ? sp + 1 : end;
        }
    } else {
        append_word(out, value.ptr, value.len);
    }
    kv_buf_deinit(&value);
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct line_words {
    struct kv_buf words[64]; /* lines with more words are refused */
    size_t count;
};

static void
line_words_deinit(struct line_words *lw)
{
    for (size_t i = 0; i < sizeof lw->words / sizeof lw->words[0]; i++)
        kv_buf_deinit(&lw->words[i]);
    lw->count = 0;
}

/* Split a line into words: blanks separate words; "..." takes C escapes (\n \r \t \a \b \\ \"
 * \xHH, any other \c is c); '...' takes only \'. A closing quote must be followed by a blank or
 * the end of the line. On failure `why` names the problem. */
static bool
split_line(const char *line, struct line_words *lw, const char **why)
{
    const char *p = line;
    lw->count = 0;
    for (;;) {
        while (*p != '\0' && is_blank(*p))
            p++;
        if (*p == '\0')
            return true;
        if (lw->count == sizeof lw->words / sizeof lw->words[0]) {
            *why = "too many words on one line";
            return false;
        }
        struct kv_buf *w = &lw->words[lw->count++];
        kv_buf_clear(w);
        kv_buf_reserve(w, 1);
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    *why = "unbalanced quotes";
                    return false;
                }
                if (*p == '"') {
                    p++;
                    break;
                }
                char c = *p++;
                if (c == '\\' && *p != '\0') {
                    c = *p++;
                    switch (c) {
                    case 'n':
                        c = '\n';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'a':
                        c = '\a';
                        break;
                    case 'b':
                        c = '\b';
                        break;
                    case 'x':
                        if (hex_digit(p[0]) >= 0 && hex_digit(p[1]) >= 0) {
                            c = (char)(hex_digit(p[0]) * 16 + hex_digit(p[1]));
                            p += 2;
                        }
                        break;
                    default:
                        break;
                    }
                }
                if (c == '\0') {
                    *why = "a NUL byte in a quoted value";
                    return false;
                }
                kv_buf_append_byte(w, (uint8_t)c);
            }
        } else if (*p == '\'') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    *why = "unbalanced quotes";
                    return false;
                }
                if (*p == '\'') {
                    p++;
                    break;
                }
                if (p[0] == '\\' && p[1] == '\'')
                    p++;
                kv_buf_append_byte(w, (uint8_t)*p++);
            }
        } else {
            while (*p != '\0' && !is_blank(*p))
                kv_buf_append_byte(w, (uint8_t)*p++);
            continue;
        }
        if (*p != '\0' && !is_blank(*p)) {
            *why = "unbalanced quotes";
            return false;
        }
    }
}

/* True for lines the parser skips: blank, or a comment ('#' as first non-blank). */
static bool
is_skipped_line(const char *line)
{
    while (*line != '\0' && is_blank(*line))
        line++;
    return *line == '\0' || *line == '#';
}

/* Apply the words of one line (at least one) to cfg. */
static enum kv_code
apply_words(struct config *cfg, const struct line_words *lw, struct kv_err *err)
{
    const struct config_option *opt = find_option(lw->words[0].ptr);
    if (opt == NULL)
        return kv_err_set(err, KV_ERR_INVALID, "unknown option '%s'", lw->words[0].ptr);
    if (lw->count > 2 && opt->type != OPT_LIST && opt->type != OPT_SLAVEOF)
        return kv_err_set(err, KV_ERR_INVALID,
                          "too many arguments for '%s' (quote a value that contains spaces)",
                          opt->name);
    struct kv_buf value = KV_BUF_INIT;
    kv_buf_reserve(&value, 1);
    for (size_t i = 1; i < lw->count; i++) {
        if (i > 1)
            kv_buf_append_byte(&value, ' ');
        kv_buf_append_slice(&value, kv_buf_slice(&lw->words[i]));
    }
    enum kv_code rc = set_option(cfg, opt, value.ptr, err);
    kv_buf_deinit(&value);
    return rc;
}

/* Apply one line that is not blank or a comment. The reason in err has no position. */
static enum kv_code
apply_line(struct config *cfg, const char *line, struct kv_err *err)
{
    struct line_words lw;
    memset(&lw, 0, sizeof lw);
    const char *why = NULL;
    enum kv_code rc;
    if (split_line(line, &lw, &why))
        rc = apply_words(cfg, &lw, err);
    else
        rc = kv_err_set(err, KV_ERR_INVALID, "%s", why);
    line_words_deinit(&lw);
    return rc;
}

/* Read one line (without its "\n" or "\r\n") into `line`. Returns false at end of file. */
static bool
read_line(FILE *f, struct kv_buf *line)
{
    kv_buf_clear(line);
    kv_buf_reserve(line, 1);
    int c;
    bool any = false;
    while ((c = fgetc(f)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        kv_buf_append_byte(line, (uint8_t)c);
    }
    if (!any)
        return false;
    if (line->len > 0 && line->ptr[line->len - 1] == '\r')
        kv_buf_resize(line, line->len - 1);
    return true;
}

struct config *
config_new(void)
{
    struct config *cfg = kv_calloc(1, sizeof *cfg);
    cfg->slaveof_host = kv_strdup("");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        enum kv_code rc = set_option(cfg, &options[i], options[i].default_text, NULL);
        KV_ASSERT(rc == KV_OK);
    }
    return cfg;
}

void
config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].type == OPT_STRING || options[i].type == OPT_LIST)
            kv_free(*(char **)field_ptr(cfg, &options[i]));
    }
    kv_free(cfg->slaveof_host);
    kv_free(cfg->path);
    kv_free(cfg);
}

enum kv_code
config_validate(const struct config *cfg, struct kv_err *err)
{
    if (cfg->cluster_enabled && cfg->slaveof_host[0] != '\0')
        return kv_err_set(err, KV_ERR_INVALID,
                          "'slaveof' can't be used with 'cluster-enabled yes' (the cluster "
                          "topology sets replication)");
    if (cfg->dir[0] == '\0')
        return kv_err_set(err, KV_ERR_INVALID, "'dir' must not be empty");
    return KV_OK;
}

enum kv_code
config_load_file(struct config *cfg, const char *path, struct kv_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", path, strerror(errno));
    replace_string(&cfg->path, path, strlen(path));

    enum kv_code rc = KV_OK;
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err line_err;
    kv_err_clear(&line_err);
    unsigned lineno = 0;
    while (read_line(f, &line)) {
        lineno++;
        if (is_skipped_line(line.ptr))
            continue;
        if (memchr(line.ptr, '\0', line.len) != NULL) {
            rc = kv_err_set(err, KV_ERR_INVALID, "%s:%u: a NUL byte in the line", path, lineno);
            goto out;
        }
        if (apply_line(cfg, line.ptr, &line_err) != KV_OK) {
            rc = kv_err_set(err, line_err.code, "%s:%u: %s", path, lineno, line_err.msg);
            goto out;
        }
    }
    if (ferror(f)) {
        rc = kv_err_set(err, KV_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (config_validate(cfg, &line_err) != KV_OK)
        rc = kv_err_set(err, line_err.code, "%s: %s", path, line_err.msg);
out:
    kv_buf_deinit(&line);
    fclose(f);
    return rc;
}

enum kv_code
config_set(struct config *cfg, const char *name, const char *value, struct kv_err *err)
{
    const struct config_option *opt = find_option(name);
    if (opt == NULL)
        return kv_err_set(err, KV_ERR_INVALID, "unknown option '%s'", name);
    return set_option(cfg, opt, value, err);
}

enum kv_code
config_set_runtime(struct config *cfg, const char *name, const char *value, struct kv_err *err)
{
    const struct config_option *opt = find_option(name);
    if (opt == NULL || !opt->is_mutable)
        return kv_err_set(err, KV_ERR, "Unsupported CONFIG parameter: %s",
                          opt != NULL ? opt->name : name);
    struct kv_buf old = KV_BUF_INIT;
    format_option(cfg, opt, &old);
    enum kv_code rc = set_option(cfg, opt, value, err);
    if (rc == KV_OK && cfg->apply_fn != NULL) {
        rc = cfg->apply_fn(cfg, opt->name, cfg->apply_arg, err);
        if (rc != KV_OK) {
            /* The old text came from a valid value, so it parses back to the same field. */
            enum kv_code restored = set_option(cfg, opt, old.ptr, NULL);
            KV_ASSERT(restored == KV_OK);
        }
    }
    kv_buf_deinit(&old);
    return rc;
}

void
config_set_apply_hook(struct config *cfg, config_apply_fn fn, void *arg)
{
    cfg->apply_fn = fn;
    cfg->apply_arg = fn != NULL ? arg : NULL;
}

enum kv_code
config_get(const struct config *cfg, const char *name, struct kv_buf *out)
{
    const struct config_option *opt = find_option(name);
    if (opt == NULL)
        return KV_NOTFOUND;
    format_option(cfg, opt, out);
    return KV_OK;
}

void
config_match(const struct config *cfg, const char *pattern,
             void (*fn)(const char *name, const char *value, void *arg), void *arg)
{
    struct kv_buf value = KV_BUF_INIT;
    size_t plen = strlen(pattern);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *name = options[i].name;
        if (!glob_match(pattern, plen, name, strlen(name), true))
            continue;
        format_option(cfg, &options[i], &value);
        fn(name, value.ptr, arg);
    }
    kv_buf_deinit(&value);
}

enum kv_code
config_rewrite(const struct config *cfg, struct kv_err *err)
{
    if (cfg->path == NULL)
        return kv_err_set(err, KV_ERR, "The server is running without a config file");

    enum kv_code rc = KV_OK;
    bool seen[OPTION_COUNT];
    memset(seen, 0, sizeof seen);
    bool has_banner = false;
    bool appended = false;
    struct kv_buf out = KV_BUF_INIT;
    struct kv_buf cur = KV_BUF_INIT;
    struct kv_buf line = KV_BUF_INIT;
    struct line_words lw;
    memset(&lw, 0, sizeof lw);

    FILE *f = fopen(cfg->path, "r");
    if (f == NULL && errno != ENOENT)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", cfg->path, strerror(errno));
    while (f != NULL && read_line(f, &line)) {
        const char *why = NULL;
        const struct config_option *opt = NULL;
        if (strcmp(line.ptr, rewrite_banner) == 0)
            has_banner = true;
        if (!is_skipped_line(line.ptr) && split_line(line.ptr, &lw, &why) && lw.count > 0)
            opt = find_option(lw.words[0].ptr);
        if (opt == NULL) {
            /* comments, blank lines, and anything we cannot read are kept verbatim */
            kv_buf_append(&out, line.ptr, line.len);
            kv_buf_append_byte(&out, '\n');
            continue;
        }
        size_t i = (size_t)(opt - options);
        if (seen[i])
            continue; /* a repeated option: the first line carries the value */
        seen[i] = true;
        append_line(cfg, opt, &out);
        kv_buf_append_byte(&out, '\n');
    }
    if (f != NULL) {
        bool failed = ferror(f) != 0;
        int saved = errno;
        fclose(f);
        if (failed) {
            rc = kv_err_set(err, KV_ERR_IO, "%s: %s", cfg->path, strerror(saved));
            goto out;
        }
    }

    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (seen[i])
            continue;
        format_option(cfg, &options[i], &cur);
        if (strcmp(cur.ptr, options[i].default_text) == 0)
            continue;
        if (!appended && !has_banner) {
            if (out.len > 0 && out.ptr[out.len - 1] != '\n')
                kv_buf_append_byte(&out, '\n');
            kv_buf_append_cstr(&out, rewrite_banner);
            kv_buf_append_byte(&out, '\n');
        }
        appended = true;
        append_line(cfg, &options[i], &out);
        kv_buf_append_byte(&out, '\n');
    }
    rc = file_write_atomic(cfg->path, out.ptr, out.len, err);
out:
    kv_buf_deinit(&cur);
    line_words_deinit(&lw);
    kv_buf_deinit(&line);
    kv_buf_deinit(&out);
    return rc;
}

/* `<dir>/<leaf>` without doubling a trailing slash of dir. */
static void
dir_join(const char *dir, const char *leaf, struct kv_buf *out)
{
    kv_buf_clear(out);
    kv_buf_append_cstr(out, dir);
    if (out->len == 0 || out->ptr[out->len - 1] != '/')
        kv_buf_append_byte(out, '/');
    kv_buf_append_cstr(out, leaf);
}

void
config_db_dir(const struct config *cfg, struct kv_buf *out)
{
    dir_join(cfg->dir, "db", out);
}

void
config_pidfile_path(const struct config *cfg, struct kv_buf *out)
{
    if (cfg->pidfile[0] != '\0') {
        kv_buf_clear(out);
        kv_buf_append_cstr(out, cfg->pidfile);
        return;
    }
    dir_join(cfg->dir, "kvrocks.pid", out);
}

void
config_log_dir(const struct config *cfg, struct kv_buf *out)
{
    kv_buf_clear(out);
    kv_buf_append_cstr(out, cfg->log_dir[0] != '\0' ? cfg->log_dir : cfg->dir);
}

size_t
config_option_count(void)
{
    return OPTION_COUNT;
}

const char *
config_option_name(size_t i)
{
    return i < OPTION_COUNT ? options[i].name : NULL;
}

const char *
config_option_default(size_t i)
{
    return i < OPTION_COUNT ? options[i].default_text : NULL;
}

bool
config_option_is_mutable(size_t i)
{
    return i < OPTION_COUNT && options[i].is_mutable;
}
