// SPDX-License-Identifier: Apache-2.0
//
// nodes: SETNODES text parsing and validation (every refusal with its exact text), slot range
// compression, nodes.conf text, and a fuzz-style loop that must never crash.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "cluster/nodes.h"
#include "common/buf.h"
#include "common/mem.h"

namespace {

// A 40-byte id made of one repeated character ('a' gives a hex id, 'x' does not).
std::string
Id(char c)
{
    return std::string(40, c);
}

const std::string A = Id('a');
const std::string B = Id('b');
const std::string C = Id('c');
const std::string D = Id('d');

struct Parsed {
    enum kv_code rc;
    std::string msg;
    struct cluster_topology *t;
};

Parsed
Parse(const std::string &text, int64_t version = 1)
{
    struct kv_err err;
    kv_err_clear(&err);
    struct cluster_topology *t = nullptr;
    enum kv_code rc = nodes_parse(text.data(), text.size(), version, &t, &err);
    if (rc == KV_OK) {
        EXPECT_NE(t, nullptr);
    } else {
        EXPECT_EQ(t, nullptr) << "out must stay untouched on error";
        EXPECT_EQ(err.code, rc);
    }
    return {rc, err.msg, t};
}

std::string
ParseErr(const std::string &text)
{
    Parsed p = Parse(text);
    EXPECT_EQ(p.rc, KV_ERR_INVALID) << text;
    nodes_topology_free(p.t);
    return p.msg;
}

std::string
Slots(const struct cluster_topology *t, int32_t node)
{
    struct kv_buf b = KV_BUF_INIT;
    nodes_format_slots(t, node, &b);
    std::string s(b.ptr ? b.ptr : "", b.len);
    kv_buf_deinit(&b);
    return s;
}

std::string
Conf(const struct cluster_topology *t)
{
    struct kv_buf b = KV_BUF_INIT;
    nodes_format_conf(t, &b);
    std::string s(b.ptr, b.len);
    kv_buf_deinit(&b);
    return s;
}

// Check every invariant nodes.h promises for a topology it built.
void
CheckInvariants(const struct cluster_topology *t)
{
    ASSERT_GT(t->node_count, 0u);
    uint32_t assigned = 0, size = 0;
    std::vector<uint32_t> count(t->node_count, 0);
    for (size_t s = 0; s < SLOT_COUNT; s++) {
        int32_t o = t->slot_owner[s];
        if (o == NODES_NONE)
            continue;
        ASSERT_GE(o, 0);
        ASSERT_LT((size_t)o, t->node_count);
        ASSERT_EQ(t->nodes[o].role, NODES_ROLE_MASTER);
        assigned++;
        count[o]++;
    }
    for (size_t i = 0; i < t->node_count; i++) {
        const struct nodes_node *n = &t->nodes[i];
        ASSERT_EQ(strlen(n->id), (size_t)NODES_ID_LEN);
        ASSERT_GT(strlen(n->host), 0u);
        ASSERT_GT(n->port, 0);
        ASSERT_EQ(n->slot_count, count[i]);
        if (count[i] > 0)
            size++;
        for (size_t j = 0; j < i; j++)
            ASSERT_NE(strcmp(t->nodes[j].id, n->id), 0);
        if (n->role == NODES_ROLE_SLAVE) {
            ASSERT_GE(n->master, 0);
            ASSERT_NE((size_t)n->master, i);
            ASSERT_EQ(t->nodes[n->master].role, NODES_ROLE_MASTER);
            ASSERT_STREQ(t->nodes[n->master].id, n->master_id);
            ASSERT_EQ(n->replica_count, 0u);
        } else {
            ASSERT_EQ(n->master, NODES_NONE);
            for (uint32_t k = 0; k < n->replica_count; k++) {
                int32_t r = t->replicas[n->replica_first + k];
                ASSERT_EQ(t->nodes[r].master, (int32_t)i);
            }
        }
    }
    ASSERT_EQ(t->slots_assigned, assigned);
    ASSERT_EQ(t->size, size);
}

} // namespace

TEST(Nodes, ParsesMastersAndReplicas)
{
    std::string text = A + " 127.0.0.1 30001 master - 0-5460\n" + B +
                       " 127.0.0.1 30002 master - 5461-10922\n" + C + " 10.0.0.3 30003 slave " + A +
                       "\n" + D + " ::1 30004 replica " + A;
    Parsed p = Parse(text, 7);
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    struct cluster_topology *t = p.t;
    CheckInvariants(t);
    EXPECT_EQ(t->version, 7);
    EXPECT_EQ(t->refs, 1);
    EXPECT_STREQ(t->my_id, "");
    EXPECT_EQ(t->myself, NODES_NONE);
    ASSERT_EQ(t->node_count, 4u);
    EXPECT_STREQ(t->nodes[0].id, A.c_str());
    EXPECT_STREQ(t->nodes[0].host, "127.0.0.1");
    EXPECT_EQ(t->nodes[0].port, 30001);
    EXPECT_EQ(t->nodes[0].role, NODES_ROLE_MASTER);
    EXPECT_STREQ(t->nodes[0].master_id, "");
    EXPECT_EQ(t->nodes[0].slot_count, 5461u);
    EXPECT_EQ(t->nodes[0].replica_count, 2u);
    EXPECT_EQ(t->replicas[t->nodes[0].replica_first], 2);
    EXPECT_EQ(t->replicas[t->nodes[0].replica_first + 1], 3);
    EXPECT_EQ(t->nodes[1].replica_count, 0u);
    EXPECT_EQ(t->nodes[2].role, NODES_ROLE_SLAVE);
    EXPECT_STREQ(t->nodes[2].master_id, A.c_str());
    EXPECT_EQ(t->nodes[2].master, 0);
    EXPECT_STREQ(t->nodes[3].host, "::1");
    EXPECT_EQ(t->nodes[3].role, NODES_ROLE_SLAVE);
    EXPECT_EQ(t->slot_owner[0], 0);
    EXPECT_EQ(t->slot_owner[5460], 0);
    EXPECT_EQ(t->slot_owner[5461], 1);
    EXPECT_EQ(t->slot_owner[10922], 1);
    EXPECT_EQ(t->slot_owner[10923], NODES_NONE);
    EXPECT_EQ(t->slot_owner[16383], NODES_NONE);
    EXPECT_EQ(t->slots_assigned, 10923u);
    EXPECT_EQ(t->size, 2u);
    EXPECT_EQ(nodes_find(t, B.data(), B.size()), 1);
    EXPECT_EQ(nodes_find(t, Id('e').data(), 40), NODES_NONE);
    EXPECT_EQ(nodes_find(t, "short", 5), NODES_NONE);
    nodes_topology_free(t);
}

TEST(Nodes, LexicalTolerance)
{
    // Runs of spaces, empty lines, CRLF line ends, case-insensitive roles, a slave before its
    // master, leading zeros, ids that are not hex (Kvrocks's tests use random letters).
    std::string x = Id('x');
    std::string text = "\n\r\n  " + C + "   h2  7001 SLAVE " + x + " \r\n\n" + x +
                       " h1 7000 Master -  007  10-20 \r\n";
    Parsed p = Parse(text);
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    CheckInvariants(p.t);
    ASSERT_EQ(p.t->node_count, 2u);
    EXPECT_EQ(p.t->nodes[0].master, 1);
    EXPECT_EQ(p.t->slot_owner[7], 1);
    EXPECT_EQ(p.t->slots_assigned, 12u);
    EXPECT_EQ(Slots(p.t, 1), "7 10-20");
    nodes_topology_free(p.t);

    // A master may list no slots; port 65535 is fine.
    p = Parse(A + " h 65535 master -");
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    EXPECT_EQ(p.t->size, 0u);
    EXPECT_EQ(p.t->nodes[0].port, 65535);
    EXPECT_EQ(Slots(p.t, 0), "");
    nodes_topology_free(p.t);
}

TEST(Nodes, RefusesBadShapes)
{
    EXPECT_EQ(ParseErr(""), "Invalid cluster nodes info");
    EXPECT_EQ(ParseErr("\n\n\r\n"), "Invalid cluster nodes info");
    EXPECT_EQ(ParseErr("   "), "Invalid cluster nodes info");
    EXPECT_EQ(ParseErr(A + " h 7000 master"), "Invalid cluster nodes info");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001"), "Invalid cluster nodes info");
    // A slave line has exactly 5 fields.
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave " + A + " 1"),
              "Invalid cluster nodes info");
}

TEST(Nodes, RefusesBadIds)
{
    EXPECT_EQ(ParseErr(std::string(39, 'a') + " h 7000 master - 0"), "Invalid cluster node id");
    EXPECT_EQ(ParseErr(std::string(41, 'a') + " h 7000 master - 0"), "Invalid cluster node id");
    std::string ctl = std::string(39, 'a') + "\x01";
    EXPECT_EQ(ParseErr(ctl + " h 7000 master - 0"), "Invalid cluster node id");
    std::string nul = std::string(39, 'a') + std::string(1, '\0');
    EXPECT_EQ(ParseErr(nul + " h 7000 master - 0"), "Invalid cluster node id");
    // A master's fifth field must be "-"; a slave's must be a 40-byte id.
    EXPECT_EQ(ParseErr(A + " h 7000 master x 0"), "Invalid cluster node id");
    EXPECT_EQ(ParseErr(A + " h 7000 master " + B + " 0"), "Invalid cluster node id");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave -"),
              "Invalid cluster node id");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave abc"),
              "Invalid cluster node id");
}

TEST(Nodes, RefusesBadHostPortRole)
{
    for (const char *port : {"abc", "0", "65536", "-1", "+1", "1x", "99999999999", "7000.0"})
        EXPECT_EQ(ParseErr(A + " h " + port + " master - 0"), "Invalid cluster node port") << port;
    for (const char *role : {"boss", "masters", "-", "slave0"})
        EXPECT_EQ(ParseErr(A + " h 7000 " + role + " - 0"), "Invalid cluster node role") << role;
    EXPECT_EQ(ParseErr(A + " " + std::string(256, 'h') + " 7000 master - 0"),
              "Invalid cluster node host");
    EXPECT_EQ(ParseErr(A + " h\x7f 7000 master - 0"), "Invalid cluster node host");
    Parsed p = Parse(A + " " + std::string(255, 'h') + " 7000 master - 0");
    EXPECT_EQ(p.rc, KV_OK) << p.msg;
    nodes_topology_free(p.t);
}

TEST(Nodes, RefusesBadSlots)
{
    for (const char *slot : {"16384", "5-5", "6-5", "a", "-5", "5-", "3--5", "1-2-3", "0-16384",
                             "-", "99999999999", "1.5", "+3", "0x10"})
        EXPECT_EQ(ParseErr(A + " h 7000 master - " + slot), "Slot is out of range") << slot;
    Parsed p = Parse(A + " h 7000 master - 0-16383");
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    EXPECT_EQ(p.t->slots_assigned, 16384u);
    EXPECT_EQ(Slots(p.t, 0), "0-16383");
    nodes_topology_free(p.t);
}

TEST(Nodes, RefusesOverlaps)
{
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0-10 5"), "Slot distribution is overlapped");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 3 3"), "Slot distribution is overlapped");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0-100\n" + B + " h 7001 master - 100-200"),
              "Slot distribution is overlapped");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 16383\n" + B + " h 7001 master - 0-16383"),
              "Slot distribution is overlapped");
}

TEST(Nodes, DetectsMissingNewline)
{
    std::string joined = A + " 127.0.0.1 7000 master - 0-100 " + B + " 127.0.0.1 7001 master - 101";
    EXPECT_EQ(ParseErr(joined), "Invalid nodes definition: Missing newline between node entries.");
    std::string fixed = A + " 127.0.0.1 7000 master - 0-100\n" + B + " 127.0.0.1 7001 master - 101";
    Parsed p = Parse(fixed);
    EXPECT_EQ(p.rc, KV_OK) << p.msg;
    nodes_topology_free(p.t);
    // A non-hex id in a slot position is just a bad slot.
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0 " + Id('x')), "Slot is out of range");
}

TEST(Nodes, RefusesInconsistentReplication)
{
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + A + " h 7001 master - 1"),
              "Invalid cluster nodes info: duplicate node id " + A);
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + A + " h 7001 slave " + B + "\n" + B +
                       " h 7002 master -"),
              "Invalid cluster nodes info: duplicate node id " + A);
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave " + B),
              "Invalid cluster nodes info: node " + B + " replicates itself");
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave " + C),
              "Invalid cluster nodes info: master " + C + " of node " + B +
                  " is not in the topology");
    // Chains (and so cycles) are refused: a slave's master must be a master.
    EXPECT_EQ(ParseErr(A + " h 7000 master - 0\n" + B + " h 7001 slave " + A + "\n" + C +
                       " h 7002 slave " + B),
              "Invalid cluster nodes info: master " + B + " of node " + C + " is a slave");
    EXPECT_EQ(ParseErr(A + " h 7000 slave " + B + "\n" + B + " h 7001 slave " + A),
              "Invalid cluster nodes info: master " + B + " of node " + A + " is a slave");
}

TEST(Nodes, CompressesFragmentedSlots)
{
    // Kvrocks TestClusterComplexTopology.
    std::string text = A + " 127.0.0.1 7000 master - 0-1 2 4-8191 8192 8193 10000 10002-11002 " +
                       "16381 16382-16383\n" + B + " 127.0.0.1 7001 master - 3 8194-9999 10001";
    Parsed p = Parse(text);
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    CheckInvariants(p.t);
    EXPECT_EQ(Slots(p.t, 0), "0-2 4-8193 10000 10002-11002 16381-16383");
    EXPECT_EQ(Slots(p.t, 1), "3 8194-9999 10001");
    EXPECT_EQ(p.t->size, 2u);

    struct cluster_slot_range *r = nullptr;
    size_t n = 0;
    nodes_slot_ranges(p.t, 0, &r, &n);
    ASSERT_EQ(n, 5u);
    EXPECT_EQ(r[0].start, 0);
    EXPECT_EQ(r[0].end, 2);
    EXPECT_EQ(r[2].start, 10000);
    EXPECT_EQ(r[2].end, 10000);
    EXPECT_EQ(r[4].start, 16381);
    EXPECT_EQ(r[4].end, 16383);
    for (size_t i = 0; i < n; i++)
        EXPECT_TRUE(r[i].set);
    kv_free(r);
    nodes_slot_ranges(p.t, NODES_NONE, &r, &n);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(r, nullptr);
    nodes_topology_free(p.t);

    // The worst case: every other slot.
    std::string odd = A + " h 1 master -";
    for (int s = 0; s < SLOT_COUNT; s += 2)
        odd += " " + std::to_string(s);
    p = Parse(odd);
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    nodes_slot_ranges(p.t, 0, &r, &n);
    EXPECT_EQ(n, (size_t)SLOT_COUNT / 2);
    kv_free(r);
    nodes_topology_free(p.t);
}

TEST(Nodes, FormatsRanges)
{
    struct kv_buf b = KV_BUF_INIT;
    nodes_format_range({true, 7, 7}, &b);
    kv_buf_append_byte(&b, ' ');
    nodes_format_range({true, 1, 3}, &b);
    nodes_format_range({false, 1, 3}, &b);
    EXPECT_EQ(std::string(b.ptr, b.len), "7 1-3");
    kv_buf_deinit(&b);
}

TEST(Nodes, MyIdAndLookup)
{
    Parsed p = Parse(A + " 10.0.0.1 7000 master - 0\n" + B + " 10.0.0.2 7000 slave " + A);
    ASSERT_EQ(p.rc, KV_OK);
    struct kv_err err;
    EXPECT_EQ(nodes_set_my_id(p.t, B.data(), B.size(), &err), KV_OK);
    EXPECT_STREQ(p.t->my_id, B.c_str());
    EXPECT_EQ(p.t->myself, 1);
    EXPECT_EQ(nodes_set_my_id(p.t, C.data(), C.size(), &err), KV_OK);
    EXPECT_EQ(p.t->myself, NODES_NONE);
    EXPECT_EQ(nodes_set_my_id(p.t, "abc", 3, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster node id");
    EXPECT_STREQ(p.t->my_id, C.c_str()) << "unchanged on error";
    EXPECT_EQ(nodes_set_my_id(p.t, nullptr, 0, &err), KV_OK);
    EXPECT_STREQ(p.t->my_id, "");

    const char *hosts[] = {"127.0.0.1", "10.0.0.2"};
    EXPECT_EQ(nodes_find_by_addr(p.t, 7000, hosts, 2), 1);
    EXPECT_EQ(nodes_find_by_addr(p.t, 7001, hosts, 2), NODES_NONE);
    EXPECT_EQ(nodes_find_by_addr(p.t, 7000, hosts, 1), NODES_NONE);

    struct cluster_topology *c = nodes_topology_copy(p.t);
    EXPECT_EQ(c->refs, 1);
    EXPECT_NE(c->nodes, p.t->nodes);
    EXPECT_EQ(Conf(c), Conf(p.t));
    nodes_topology_free(c);
    nodes_topology_free(p.t);

    struct cluster_topology *e = nodes_topology_new_empty();
    EXPECT_EQ(e->version, -1);
    EXPECT_EQ(e->node_count, 0u);
    EXPECT_EQ(e->myself, NODES_NONE);
    EXPECT_EQ(e->slot_owner[123], NODES_NONE);
    c = nodes_topology_copy(e);
    nodes_topology_free(c);
    nodes_topology_free(e);
    nodes_topology_free(nullptr);
}

TEST(Nodes, ConfRoundTrip)
{
    std::string text = A + " 127.0.0.1 7000 master - 0-1 2 4-8191 8192 8193 10000 10002-11002\n" +
                       B + " 127.0.0.1 7001 master -\n" + C + " 127.0.0.1 7002 slave " + A + "\n" +
                       D + " 127.0.0.1 7003 master - 3";
    Parsed p = Parse(text, 42);
    ASSERT_EQ(p.rc, KV_OK) << p.msg;
    ASSERT_EQ(nodes_set_my_id(p.t, C.data(), C.size(), nullptr), KV_OK);
    std::string conf = Conf(p.t);
    EXPECT_EQ(conf, "version 42\nid " + C + "\nnode " + A +
                        " 127.0.0.1 7000 master - 0-2 4-8193 10000 10002-11002\nnode " + B +
                        " 127.0.0.1 7001 master -\nnode " + C + " 127.0.0.1 7002 slave " + A +
                        "\nnode " + D + " 127.0.0.1 7003 master - 3\n");

    struct cluster_topology *q = nullptr;
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(nodes_parse_conf(conf.data(), conf.size(), &q, &err), KV_OK) << err.msg;
    CheckInvariants(q);
    EXPECT_EQ(q->version, 42);
    EXPECT_STREQ(q->my_id, C.c_str());
    EXPECT_EQ(q->myself, 2);
    EXPECT_EQ(Conf(q), conf);
    EXPECT_EQ(memcmp(q->slot_owner, p.t->slot_owner, sizeof q->slot_owner), 0);
    nodes_topology_free(q);
    nodes_topology_free(p.t);

    // Kvrocks writes "master -  <slots>" (two spaces) and may write "id " with no value.
    std::string kv = "version 3\nid \n# comment\n\nnode " + A + " h 7000 master -  0-5\r\n";
    ASSERT_EQ(nodes_parse_conf(kv.data(), kv.size(), &q, &err), KV_OK) << err.msg;
    EXPECT_EQ(q->version, 3);
    EXPECT_STREQ(q->my_id, "");
    EXPECT_EQ(q->slots_assigned, 6u);
    nodes_topology_free(q);

    // Only an id (SETNODEID before any SETNODES).
    struct cluster_topology *e = nodes_topology_new_empty();
    ASSERT_EQ(nodes_set_my_id(e, A.data(), A.size(), nullptr), KV_OK);
    conf = Conf(e);
    EXPECT_EQ(conf, "version -1\nid " + A + "\n");
    ASSERT_EQ(nodes_parse_conf(conf.data(), conf.size(), &q, &err), KV_OK) << err.msg;
    EXPECT_EQ(q->version, -1);
    EXPECT_EQ(q->node_count, 0u);
    EXPECT_STREQ(q->my_id, A.c_str());
    nodes_topology_free(q);
    nodes_topology_free(e);
}

TEST(Nodes, ConfRefusesCorruptText)
{
    struct {
        std::string text;
        std::string msg;
    } cases[] = {
        {"", "missing version"},
        {"id " + A + "\n", "missing version"},
        {"version x\n", "line 1: Invalid cluster version"},
        {"version -2\n", "line 1: Invalid cluster version"},
        {"version 1\nid abc\n", "line 2: Invalid cluster node id"},
        {"version 1\nfoo bar\n", "line 2: unknown key: foo"},
        {"version 1\n", "line 1: Invalid cluster nodes info"},
        {"version -1\nnode " + A + " h 1 master - 0\n", "line 2: Invalid cluster version"},
        {"version 1\n\nnode " + A + " h 1 master - 0\nnode " + B + " h 2 master - 0\n",
         "line 3: Slot distribution is overlapped"},
        {"version 1\nnode " + A + " h 1 master - 0\nnode " + B + " h 2 sla", // cut mid-write
         "line 2: Invalid cluster nodes info"},
    };
    for (const auto &c : cases) {
        struct cluster_topology *q = nullptr;
        struct kv_err err;
        kv_err_clear(&err);
        EXPECT_EQ(nodes_parse_conf(c.text.data(), c.text.size(), &q, &err), KV_ERR_CORRUPT)
            << c.text;
        EXPECT_EQ(q, nullptr);
        EXPECT_EQ(std::string(err.msg), c.msg) << c.text;
    }
}

// Random and mutated SETNODES texts never crash: each is refused with a message, or yields a
// topology that keeps every invariant (and survives the nodes.conf round trip).
TEST(Nodes, FuzzNeverCrashes)
{
    std::mt19937 rng(20240611);
    const std::string seeds[] = {
        A + " 127.0.0.1 30001 master - 0-5460 7000\n" + B + " 127.0.0.1 30002 master - " +
            "5461-6999 7001-16383\n" + C + " 127.0.0.1 30003 slave " + A + "\n" + D +
            " 127.0.0.1 30004 replica " + B + "\n",
        A + " h 1 master -\n",
        A + " h 1 master - 0 1 2 3 4-10 12-16383\r\n" + B + " h 2 slave " + A,
    };
    const char alphabet[] = "0123456789abcdef- \n\rmasterlvpic\x00\x7f:.x";
    int ok = 0, refused = 0;
    for (int iter = 0; iter < 20000; iter++) {
        std::string s = seeds[rng() % 3];
        int edits = 1 + (int)(rng() % 8);
        for (int e = 0; e < edits; e++) {
            size_t pos = s.empty() ? 0 : rng() % s.size();
            char ch = alphabet[rng() % (sizeof alphabet - 1)];
            switch (rng() % 5) {
            case 0:
                if (!s.empty())
                    s[pos] = ch;
                break;
            case 1:
                s.insert(pos, 1, ch);
                break;
            case 2:
                if (!s.empty())
                    s.erase(pos, 1 + rng() % 4);
                break;
            case 3: { // splice a chunk from elsewhere (joins and duplicates lines)
                size_t from = s.empty() ? 0 : rng() % s.size();
                s.insert(pos, s.substr(from, rng() % 60));
                break;
            }
            default:
                if (iter % 7 == 0) { // pure noise now and then
                    s.clear();
                    size_t n = rng() % 200;
                    for (size_t k = 0; k < n; k++)
                        s.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
                }
            }
        }
        struct cluster_topology *t = nullptr;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = nodes_parse(s.data(), s.size(), iter, &t, &err);
        if (rc == KV_OK) {
            ok++;
            ASSERT_NO_FATAL_FAILURE(CheckInvariants(t)) << s;
            std::string conf = Conf(t);
            struct cluster_topology *q = nullptr;
            ASSERT_EQ(nodes_parse_conf(conf.data(), conf.size(), &q, &err), KV_OK)
                << err.msg << "\n"
                << conf;
            ASSERT_EQ(Conf(q), conf);
            nodes_topology_free(q);
            nodes_topology_free(t);
        } else {
            refused++;
            ASSERT_EQ(rc, KV_ERR_INVALID);
            ASSERT_EQ(t, nullptr);
            ASSERT_GT(strlen(err.msg), 0u);
        }
    }
    EXPECT_GT(ok, 100);
    EXPECT_GT(refused, 100);
}

// The same for nodes.conf text: mutated files are refused as corrupt or parse into a topology
// that keeps every invariant.
TEST(Nodes, ConfFuzzNeverCrashes)
{
    std::mt19937 rng(7);
    const std::string seed = "version 12\nid " + C + "\nnode " + A +
                             " 127.0.0.1 7000 master - 0-100 200 300-16383\nnode " + B +
                             " 127.0.0.1 7001 master - 101-199\nnode " + C +
                             " 127.0.0.1 7002 slave " + A + "\n";
    const char alphabet[] = "0123456789abc- \n#versionidnode\x00";
    int ok = 0;
    for (int iter = 0; iter < 5000; iter++) {
        std::string s = seed;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = rng() % s.size();
            char ch = alphabet[rng() % (sizeof alphabet - 1)];
            if (rng() % 2)
                s[pos] = ch;
            else
                s.erase(pos, 1 + rng() % 8);
            if (s.empty())
                s = "v";
        }
        struct cluster_topology *t = nullptr;
        struct kv_err err;
        kv_err_clear(&err);
        enum kv_code rc = nodes_parse_conf(s.data(), s.size(), &t, &err);
        if (rc == KV_OK) {
            ok++;
            if (t->version >= 0) {
                ASSERT_NO_FATAL_FAILURE(CheckInvariants(t)) << s;
            } else {
                ASSERT_EQ(t->node_count, 0u);
            }
            nodes_topology_free(t);
        } else {
            ASSERT_EQ(rc, KV_ERR_CORRUPT);
            ASSERT_EQ(t, nullptr);
            ASSERT_GT(strlen(err.msg), 0u);
        }
    }
    EXPECT_GT(ok, 10);
}
