/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_resp_parser: a libFuzzer target for resp/resp_parser. Not part of the default build.
 * Build and run from the repository root (60 s, ASan + UBSan):
 *   see the one-line command below (kept on one line by the clang-format guard).
 *
 * The first input byte picks the limits (tiny, so every limit is reachable, or Redis's) and the
 * chunk pattern; the rest is the request stream. The stream is parsed twice, whole and in
 * chunks (dropping consumed bytes and moving the buffer between calls, as a connection does),
 * and the two outcomes must be identical. Each call also checks the parser's invariants: offsets
 * inside the buffer, progress never going back, an error repeating on the next call, and the
 * line-end searches looking at each byte about once.
 */
/* clang-format off */
/* clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_resp_parser.c src/resp/resp_parser.c src/common/status.c src/common/strconv.c src/common/mem.c src/common/log_glog.cc -lglog -lstdc++ -lm -o /tmp/fuzz_resp_parser && /tmp/fuzz_resp_parser -max_total_time=60 */
/* clang-format on */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp/resp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a parse produced: a hash of every request's arguments, counts, and the final verdict. */
struct outcome {
    uint64_t hash;
    size_t requests;
    size_t leftover;
    char error[KV_ERR_MSG_MAX];
};

static void
check(int cond)
{
    if (!cond)
        abort();
}

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Parse `in` fed in pieces of the sizes cycled from `chunks` (0 means all at once). */
static void
parse(const char *in, size_t n, const struct resp_limits *lim, const uint8_t *chunks,
      size_t nchunks, struct outcome *out)
{
    struct resp_parser p;
    resp_parser_init(&p);
    memset(out, 0, sizeof *out);
    out->hash = 14695981039346656037ull;
    char *buf = NULL;
    size_t len = 0;
    size_t fed = 0;
    size_t dropped = 0;
    size_t last_cursor = 0;
    uint64_t calls = 0;
    size_t ci = 0;
    for (;;) {
        size_t step = nchunks ? (size_t)chunks[ci++ % nchunks] % 17 + 1 : n;
        if (step > n - fed)
            step = n - fed;
        /* A fresh allocation each time: the parser must hold offsets only. */
        char *nb = malloc(len + step + 1);
        check(nb != NULL);
        if (len)
            memcpy(nb, buf, len);
        memcpy(nb + len, in + fed, step);
        free(buf);
        buf = nb;
        len += step;
        fed += step;
        for (;;) {
            struct kv_err err;
            kv_err_clear(&err);
            calls++;
            enum kv_code rc = resp_parser_next(&p, buf, len, lim, &err);
            check(p.pos <= p.cursor && p.cursor <= len);
            check(p.cursor + dropped >= last_cursor);
            last_cursor = p.cursor + dropped;
            check(p.scanned <= fed + calls);
            if (rc == KV_OK) {
                check(p.argc >= 1 && p.pos <= len);
                out->requests++;
                out->hash = mix(out->hash, &p.argc, sizeof p.argc);
                for (size_t i = 0; i < p.argc; i++) {
                    const char *a = resp_parser_arg(&p, buf, i);
                    if (!p.is_inline)
                        check(p.argv[i].off + p.argv[i].len <= p.pos);
                    out->hash = mix(out->hash, &p.argv[i].len, sizeof p.argv[i].len);
                    out->hash = mix(out->hash, a, p.argv[i].len);
                }
                resp_parser_done(&p);
                continue;
            }
            if (rc == KV_ERR_PROTOCOL) {
                struct kv_err again;
                kv_err_clear(&again);
                check(resp_parser_next(&p, buf, len, lim, &again) == KV_ERR_PROTOCOL);
                check(strcmp(again.msg, err.msg) == 0);
                memcpy(out->error, err.msg, sizeof out->error);
                goto done;
            }
            check(rc == KV_NOTFOUND);
            break;
        }
        if (p.pos > 0) {
            size_t k = p.pos;
            memmove(buf, buf + k, len - k);
            len -= k;
            dropped += k;
            resp_parser_rebase(&p, k);
        }
        if (fed == n)
            break;
    }
    out->leftover = len - p.pos;
done:
    free(buf);
    resp_parser_deinit(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct resp_limits tiny = {4, 16, 12};
    struct resp_limits redis = {1024 * 1024, 512u * 1024 * 1024, 64 * 1024};
    const struct resp_limits *lim = (mode & 1) ? &redis : &tiny;
    struct outcome whole;
    struct outcome pieces;
    parse(in, n, lim, NULL, 0, &whole);
    /* Chunk sizes come from the input itself, so the fuzzer explores splits too. */
    parse(in, n, lim, data, size, &pieces);
    check(whole.hash == pieces.hash && whole.requests == pieces.requests &&
          whole.leftover == pieces.leftover && strcmp(whole.error, pieces.error) == 0);
    return 0;
}
