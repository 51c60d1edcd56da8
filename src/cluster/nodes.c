/* SPDX-License-Identifier: Apache-2.0
 *
 * nodes: SETNODES text -> struct cluster_topology, and the shared printers. The parser builds
 * into a private topology and hands it out only when every line and every cross-line rule
 * passed, so a refusal leaves nothing behind. Helpers first, entry points last.
 *
 * Threads: any; no shared state.
 */
#include "cluster/nodes.h"

#include <stdio.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/slice.h"
#include "common/strconv.h"

/* A cursor over the fields of one line: bytes separated by runs of spaces. */
struct field_iter {
    const char *p;
    const char *end;
};

static bool
next_field(struct field_iter *it, struct kv_slice *f)
{
    while (it->p < it->end && *it->p == ' ')
        it->p++;
    if (it->p == it->end)
        return false;
    const char *start = it->p;
    while (it->p < it->end && *it->p != ' ')
        it->p++;
    *f = kv_slice_make(start, (size_t)(it->p - start));
    return true;
}

static size_t
count_fields(const char *p, const char *end)
{
    struct field_iter it = {p, end};
    struct kv_slice f;
    size_t n = 0;
    while (next_field(&it, &f))
        n++;
    return n;
}

/* Printable ASCII without space: what an id or a host may contain. */
static bool
all_graph(struct kv_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

static bool
is_node_id(struct kv_slice s)
{
    return s.len == NODES_ID_LEN && all_graph(s);
}

/* Kvrocks's "\b[a-fA-F0-9]{40}\b" matched against a whole slot token. */
static bool
is_hex40(struct kv_slice s)
{
    if (s.len != NODES_ID_LEN)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            return false;
    }
    return true;
}

/* Decimal digits only (leading zeros allowed), value <= max. */
static bool
parse_small_uint(const char *p, size_t len, uint32_t max, uint32_t *out)
{
    if (len == 0 || len > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "<slot>" or "<start>-<end>" with start < end. */
static bool
parse_slot_token(struct kv_slice tok, uint16_t *start, uint16_t *end)
{
    const char *dash = memchr(tok.ptr, '-', tok.len);
    uint32_t a, b;
    if (dash == NULL) {
        if (!parse_small_uint(tok.ptr, tok.len, SLOT_COUNT - 1, &a))
            return false;
        *start = *end = (uint16_t)a;
        return true;
    }
    size_t alen = (size_t)(dash - tok.ptr);
    if (!parse_small_uint(tok.ptr, alen, SLOT_COUNT - 1, &a) ||
        !parse_small_uint(dash + 1, tok.len - alen - 1, SLOT_COUNT - 1, &b) || a >= b)
        return false;
    *start = (uint16_t)a;
    *end = (uint16_t)b;
    return true;
}

static bool
eq_nocase(struct kv_slice s, const char *lit)
{
    return kv_slice_eq_nocase(s, lit);
}

static struct cluster_topology *
topology_alloc(int64_t version)
{
    struct cluster_topology *t = kv_calloc(1, sizeof *t);
    t->refs = 1;
    t->version = version;
    t->myself = NODES_NONE;
    for (size_t i = 0; i < SLOT_COUNT; i++)
        t->slot_owner[i] = NODES_NONE;
    return t;
}

static void
copy_field(char *dst, struct kv_slice f)
{
    memcpy(dst, f.ptr, f.len);
    dst[f.len] = '\0';
}

/* Parse one non-empty line into a new node appended to t->nodes (capacity *cap), claiming its
 * slots in t->slot_owner. `ids` maps id -> index + 1 for the duplicate check. */
static enum kv_code
parse_line(struct cluster_topology *t, size_t *cap, struct dict *ids, const char *p,
           const char *end, struct kv_err *err)
{
    if (count_fields(p, end) < 5)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_INFO);

    struct field_iter it = {p, end};
    struct kv_slice id = {0}, host = {0}, port = {0}, role = {0}, master = {0};
    next_field(&it, &id);
    next_field(&it, &host);
    next_field(&it, &port);
    next_field(&it, &role);
    next_field(&it, &master);

    if (!is_node_id(id))
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    if (host.len > NODES_HOST_MAX || !all_graph(host))
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_HOST);
    uint32_t port_num;
    if (!parse_small_uint(port.ptr, port.len, UINT16_MAX, &port_num) || port_num == 0)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_PORT);
    enum nodes_role r;
    if (eq_nocase(role, "master"))
        r = NODES_ROLE_MASTER;
    else if (eq_nocase(role, "slave") || eq_nocase(role, "replica"))
        r = NODES_ROLE_SLAVE;
    else
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ROLE);
    if (r == NODES_ROLE_MASTER && !(master.len == 1 && master.ptr[0] == '-'))
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    if (r == NODES_ROLE_SLAVE && !is_node_id(master))
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);

    int32_t index = (int32_t)t->node_count;
    struct kv_slice slot_tok;
    if (r == NODES_ROLE_SLAVE) {
        if (next_field(&it, &slot_tok))
            return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_INFO);
    } else {
        while (next_field(&it, &slot_tok)) {
            if (is_hex40(slot_tok))
                return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_NEWLINE);
            uint16_t a, b;
            if (!parse_slot_token(slot_tok, &a, &b))
                return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_SLOT);
            for (uint32_t s = a; s <= b; s++) {
                if (t->slot_owner[s] != NODES_NONE)
                    return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_OVERLAP);
                t->slot_owner[s] = index;
            }
        }
    }

    if (dict_add(ids, id.ptr, id.len, (void *)(uintptr_t)(index + 1)) != KV_OK)
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_INFO ": duplicate node id %.*s",
                          (int)id.len, id.ptr);

    if (t->node_count == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        t->nodes = kv_realloc(t->nodes, *cap * sizeof *t->nodes);
    }
    struct nodes_node *n = &t->nodes[t->node_count++];
    memset(n, 0, sizeof *n);
    copy_field(n->id, id);
    copy_field(n->host, host);
    n->port = (uint16_t)port_num;
    n->role = r;
    n->master = NODES_NONE;
    if (r == NODES_ROLE_SLAVE)
        copy_field(n->master_id, master);
    return KV_OK;
}

/* Resolve every slave's master (must be another node, and a master) and fill the derived
 * fields: replicas[], replica_first/count, slot_count, size, slots_assigned. */
static enum kv_code
link_nodes(struct cluster_topology *t, struct dict *ids, struct kv_err *err)
{
    for (size_t i = 0; i < t->node_count; i++) {
        struct nodes_node *n = &t->nodes[i];
        if (n->role != NODES_ROLE_SLAVE)
            continue;
        if (strcmp(n->master_id, n->id) == 0)
            return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_INFO ": node %s replicates itself",
                              n->id);
        uintptr_t v = (uintptr_t)dict_get(ids, n->master_id, NODES_ID_LEN);
        if (v == 0)
            return kv_err_set(err, KV_ERR_INVALID,
                              NODES_ERR_INFO ": master %s of node %s is not in the topology",
                              n->master_id, n->id);
        int32_t m = (int32_t)(v - 1);
        if (t->nodes[m].role != NODES_ROLE_MASTER)
            return kv_err_set(err, KV_ERR_INVALID,
                              NODES_ERR_INFO ": master %s of node %s is a slave", n->master_id,
                              n->id);
        n->master = m;
        t->nodes[m].replica_count++;
    }

    uint32_t next = 0;
    for (size_t i = 0; i < t->node_count; i++) {
        struct nodes_node *n = &t->nodes[i];
        n->replica_first = next;
        next += n->replica_count;
        n->replica_count = 0; /* refilled below */
    }
    t->replicas = kv_malloc((t->node_count ? t->node_count : 1) * sizeof *t->replicas);
    for (size_t i = 0; i < t->node_count; i++) {
        const struct nodes_node *n = &t->nodes[i];
        if (n->role != NODES_ROLE_SLAVE)
            continue;
        struct nodes_node *m = &t->nodes[n->master];
        t->replicas[m->replica_first + m->replica_count++] = (int32_t)i;
    }

    for (size_t s = 0; s < SLOT_COUNT; s++) {
        if (t->slot_owner[s] == NODES_NONE)
            continue;
        t->slots_assigned++;
        if (t->nodes[t->slot_owner[s]].slot_count++ == 0)
            t->size++;
    }
    return KV_OK;
}

static void
append_node_conf_line(const struct cluster_topology *t, int32_t i, struct kv_buf *out)
{
    const struct nodes_node *n = &t->nodes[i];
    kv_buf_printf(out, "node %s %s %u ", n->id, n->host, (unsigned)n->port);
    if (n->role == NODES_ROLE_MASTER) {
        kv_buf_append_cstr(out, "master -");
        if (n->slot_count > 0) {
            kv_buf_append_byte(out, ' ');
            nodes_format_slots(t, i, out);
        }
    } else {
        kv_buf_printf(out, "slave %s", n->master_id);
    }
    kv_buf_append_byte(out, '\n');
}

enum kv_code
nodes_parse(const char *text, size_t len, int64_t version, struct cluster_topology **out,
            struct kv_err *err)
{
    struct cluster_topology *t = topology_alloc(version);
    struct dict *ids = dict_new(NULL, false);
    size_t cap = 0;
    enum kv_code rc = KV_OK;

    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        if (line_end > p) {
            rc = parse_line(t, &cap, ids, p, line_end, err);
            if (rc != KV_OK)
                goto fail;
        }
        p = next;
    }
    if (t->node_count == 0) {
        rc = kv_err_set(err, KV_ERR_INVALID, NODES_ERR_INFO);
        goto fail;
    }
    rc = link_nodes(t, ids, err);
    if (rc != KV_OK)
        goto fail;

    dict_free(ids);
    *out = t;
    return KV_OK;

fail:
    dict_free(ids);
    nodes_topology_free(t);
    return rc;
}

struct cluster_topology *
nodes_topology_new_empty(void)
{
    return topology_alloc(-1);
}

struct cluster_topology *
nodes_topology_copy(const struct cluster_topology *t)
{
    struct cluster_topology *c = kv_malloc(sizeof *c);
    memcpy(c, t, sizeof *c);
    c->refs = 1;
    c->nodes = NULL;
    c->replicas = NULL;
    if (t->nodes != NULL) {
        c->nodes = kv_malloc(t->node_count * sizeof *c->nodes);
        memcpy(c->nodes, t->nodes, t->node_count * sizeof *c->nodes);
    }
    if (t->replicas != NULL) {
        size_t n = t->node_count ? t->node_count : 1;
        c->replicas = kv_malloc(n * sizeof *c->replicas);
        memcpy(c->replicas, t->replicas, n * sizeof *c->replicas);
    }
    return c;
}

void
nodes_topology_free(struct cluster_topology *t)
{
    if (t == NULL)
        return;
    kv_free(t->nodes);
    kv_free(t->replicas);
    kv_free(t);
}

enum kv_code
nodes_set_my_id(struct cluster_topology *t, const char *id, size_t len, struct kv_err *err)
{
    if (len != 0 && !is_node_id(kv_slice_make(id, len)))
        return kv_err_set(err, KV_ERR_INVALID, NODES_ERR_ID);
    if (len != 0)
        memcpy(t->my_id, id, len);
    t->my_id[len] = '\0';
    t->myself = len ? nodes_find(t, id, len) : NODES_NONE;
    return KV_OK;
}

int32_t
nodes_find(const struct cluster_topology *t, const char *id, size_t len)
{
    if (len != NODES_ID_LEN)
        return NODES_NONE;
    for (size_t i = 0; i < t->node_count; i++) {
        if (memcmp(t->nodes[i].id, id, NODES_ID_LEN) == 0)
            return (int32_t)i;
    }
    return NODES_NONE;
}

int32_t
nodes_find_by_addr(const struct cluster_topology *t, uint16_t port, const char *const *hosts,
                   size_t n)
{
    for (size_t i = 0; i < t->node_count; i++) {
        if (t->nodes[i].port != port)
            continue;
        for (size_t h = 0; h < n; h++) {
            if (hosts[h] != NULL && strcmp(hosts[h], t->nodes[i].host) == 0)
                return (int32_t)i;
        }
    }
    return NODES_NONE;
}

void
nodes_slot_ranges(const struct cluster_topology *t, int32_t node,
                  struct cluster_slot_range **ranges, size_t *count)
{
    size_t n = 0, cap = 0;
    struct cluster_slot_range *r = NULL;
    for (uint32_t s = 0; s < SLOT_COUNT; s++) {
        if (t->slot_owner[s] != node || node == NODES_NONE)
            continue;
        uint32_t e = s;
        while (e + 1 < SLOT_COUNT && t->slot_owner[e + 1] == node)
            e++;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            r = kv_realloc(r, cap * sizeof *r);
        }
        r[n].set = true;
        r[n].start = (uint16_t)s;
        r[n].end = (uint16_t)e;
        n++;
        s = e;
    }
    *ranges = r;
    *count = n;
}

void
nodes_format_range(struct cluster_slot_range r, struct kv_buf *out)
{
    if (!r.set)
        return;
    if (r.start == r.end)
        kv_buf_printf(out, "%u", (unsigned)r.start);
    else
        kv_buf_printf(out, "%u-%u", (unsigned)r.start, (unsigned)r.end);
}

void
nodes_format_slots(const struct cluster_topology *t, int32_t node, struct kv_buf *out)
{
    bool first = true;
    for (uint32_t s = 0; s < SLOT_COUNT; s++) {
        if (t->slot_owner[s] != node || node == NODES_NONE)
            continue;
        uint32_t e = s;
        while (e + 1 < SLOT_COUNT && t->slot_owner[e + 1] == node)
            e++;
        if (!first)
            kv_buf_append_byte(out, ' ');
        struct cluster_slot_range r = {true, (uint16_t)s, (uint16_t)e};
        nodes_format_range(r, out);
        first = false;
        s = e;
    }
}

void
nodes_format_conf(const struct cluster_topology *t, struct kv_buf *out)
{
    kv_buf_printf(out, "version %lld\n", (long long)t->version);
    if (t->my_id[0] != '\0')
        kv_buf_printf(out, "id %s\n", t->my_id);
    for (size_t i = 0; i < t->node_count; i++)
        append_node_conf_line(t, (int32_t)i, out);
}

enum kv_code
nodes_parse_conf(const char *text, size_t len, struct cluster_topology **out, struct kv_err *err)
{
    struct kv_buf node_text = KV_BUF_INIT;
    char id[NODES_ID_LEN + 1] = "";
    size_t id_len = 0;
    int64_t version = -1;
    bool have_version = false;
    size_t first_node_line = 0, line_no = 0;
    enum kv_code rc = KV_OK;
    struct cluster_topology *t = NULL;

    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        line_no++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;

        struct field_iter it = {p, line_end};
        struct kv_slice key;
        p = next;
        if (!next_field(&it, &key) || key.ptr[0] == '#')
            continue;
        /* The value is the rest of the line, without surrounding spaces. */
        while (it.p < it.end && *it.p == ' ')
            it.p++;
        const char *vend = it.end;
        while (vend > it.p && vend[-1] == ' ')
            vend--;
        struct kv_slice value = kv_slice_make(it.p, (size_t)(vend - it.p));
        if (value.len == 0)
            continue; /* Kvrocks skips "key" without a value */

        if (kv_slice_eq(key, kv_slice_cstr("version"))) {
            if (strconv_to_int64(value.ptr, value.len, &version) != KV_OK || version < -1) {
                rc = kv_err_set(err, KV_ERR_CORRUPT, "line %zu: %s", line_no, NODES_ERR_VERSION);
                goto out;
            }
            have_version = true;
        } else if (kv_slice_eq(key, kv_slice_cstr("id"))) {
            if (!is_node_id(value)) {
                rc = kv_err_set(err, KV_ERR_CORRUPT, "line %zu: %s", line_no, NODES_ERR_ID);
                goto out;
            }
            memcpy(id, value.ptr, value.len);
            id_len = value.len;
        } else if (kv_slice_eq(key, kv_slice_cstr("node"))) {
            if (first_node_line == 0)
                first_node_line = line_no;
            kv_buf_append_slice(&node_text, value);
            kv_buf_append_byte(&node_text, '\n');
        } else {
            rc = kv_err_set(err, KV_ERR_CORRUPT, "line %zu: unknown key: %.*s", line_no,
                            (int)(key.len > 64 ? 64 : key.len), key.ptr);
            goto out;
        }
    }

    if (!have_version) {
        rc = kv_err_set(err, KV_ERR_CORRUPT, "missing version");
        goto out;
    }
    if (version < 0) {
        if (first_node_line != 0) {
            rc =
                kv_err_set(err, KV_ERR_CORRUPT, "line %zu: %s", first_node_line, NODES_ERR_VERSION);
            goto out;
        }
        t = nodes_topology_new_empty();
    } else {
        struct kv_err perr;
        kv_err_clear(&perr);
        if (nodes_parse(node_text.ptr ? node_text.ptr : "", node_text.len, version, &t, &perr) !=
            KV_OK) {
            rc = kv_err_set(err, KV_ERR_CORRUPT, "line %zu: %s",
                            first_node_line ? first_node_line : line_no, perr.msg);
            goto out;
        }
    }
    nodes_set_my_id(t, id, id_len, NULL); /* validated above */
    *out = t;

out:
    kv_buf_deinit(&node_text);
    return rc;
}
