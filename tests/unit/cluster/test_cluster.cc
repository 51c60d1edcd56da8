// SPDX-License-Identifier: Apache-2.0
//
// cluster: version rules, SETNODES/SETNODEID/SETSLOT preparation, the routing matrix, roles and
// role changes, reply texts, snapshot refcounting under concurrent readers, and nodes.conf on
// disk.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "cluster/nodes.h"
#include "cluster/nodes_file.h"
#include "common/buf.h"
#include "common/mem.h"
#include "common/slot.h"
#include "tempdir.h"

namespace {

std::string
Id(char c)
{
    return std::string(40, c);
}

const std::string M1 = Id('1'); // master 0-8191, at 10.0.0.1:7001
const std::string M2 = Id('2'); // master 8192-16000, at 10.0.0.2:7002
const std::string R1 = Id('3'); // replica of M1, at 10.0.0.3:7003
const std::string X = Id('9');  // not in the topology

// Slots 16001-16383 have no owner.
std::string
Text()
{
    return M1 + " 10.0.0.1 7001 master - 0-8191\n" + M2 + " 10.0.0.2 7002 master - 8192-16000\n" +
           R1 + " 10.0.0.3 7003 slave " + M1 + "\n";
}

// A published-style topology with my id set (nullptr: none).
struct cluster_topology *
Topo(const std::string *me, int64_t version = 5, const std::string &text = Text())
{
    struct cluster_topology *t = nullptr;
    struct kv_err err;
    kv_err_clear(&err);
    EXPECT_EQ(nodes_parse(text.data(), text.size(), version, &t, &err), KV_OK) << err.msg;
    if (t != nullptr && me != nullptr) {
        EXPECT_EQ(nodes_set_my_id(t, me->data(), me->size(), &err), KV_OK);
    }
    return t;
}

struct Route {
    enum kv_code rc;
    std::string msg;
    struct cluster_route_res res;
};

struct Req {
    std::vector<uint16_t> slots;
    bool write = false;
    bool readonly = false;
    bool asking = false;
    bool importing = false;
    enum cluster_keys_presence keys = CLUSTER_KEYS_UNCHECKED;
};

Route
DoRoute(const struct cluster_topology *t, const Req &r,
        const struct cluster_migration_view *mv = nullptr)
{
    struct cluster_route_req req = {};
    req.slots = r.slots.empty() ? nullptr : r.slots.data();
    req.nslots = r.slots.size();
    req.is_write = r.write;
    req.readonly_conn = r.readonly;
    req.asking = r.asking;
    req.importing_conn = r.importing;
    req.keys = r.keys;
    struct kv_err err;
    kv_err_clear(&err);
    Route out;
    out.rc = cluster_route(t, mv, &req, &out.res, &err);
    out.msg = out.rc == KV_OK ? "" : err.msg;
    if (out.rc != KV_OK) {
        EXPECT_EQ(err.code, out.rc);
    }
    return out;
}

Req
Read(std::vector<uint16_t> slots)
{
    Req r;
    r.slots = std::move(slots);
    return r;
}

Req
Write(std::vector<uint16_t> slots)
{
    Req r;
    r.slots = std::move(slots);
    r.write = true;
    return r;
}

std::string
Str(const struct kv_buf &b)
{
    return std::string(b.ptr ? b.ptr : "", b.len);
}

} // namespace

TEST(Cluster, VersionRules)
{
    struct kv_err err;
    bool apply = true;
    // Lower, negative: refused with Kvrocks's text, with or without a prior topology.
    EXPECT_EQ(cluster_check_version(5, 4, false, &apply, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster version");
    EXPECT_EQ(cluster_check_version(5, -1, false, &apply, &err), KV_ERR_INVALID);
    EXPECT_EQ(cluster_check_version(-1, -1, false, &apply, &err), KV_ERR_INVALID);
    EXPECT_EQ(cluster_check_version(5, -3, true, &apply, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster version");
    EXPECT_TRUE(apply) << "untouched on error";
    // Equal: a no-op.
    EXPECT_EQ(cluster_check_version(5, 5, false, &apply, &err), KV_OK);
    EXPECT_FALSE(apply);
    // Higher, or anything >= 0 with force.
    EXPECT_EQ(cluster_check_version(5, 6, false, &apply, &err), KV_OK);
    EXPECT_TRUE(apply);
    EXPECT_EQ(cluster_check_version(-1, 0, false, &apply, &err), KV_OK);
    EXPECT_TRUE(apply);
    EXPECT_EQ(cluster_check_version(5, 1, true, &apply, &err), KV_OK);
    EXPECT_TRUE(apply);
    EXPECT_EQ(cluster_check_version(5, 5, true, &apply, &err), KV_OK);
    EXPECT_TRUE(apply);
    EXPECT_EQ(cluster_check_version(5, 0, true, &apply, &err), KV_OK);
    EXPECT_TRUE(apply);
}

TEST(Cluster, SetnodesDecidesStalenessBeforeParsing)
{
    struct cluster_topology *cur = Topo(&R1, 5);
    struct cluster_topology *next = nullptr;
    struct kv_err err;
    const std::string bad = "not a topology";

    // Lower with a malformed body: the version error, not a parse error.
    EXPECT_EQ(cluster_setnodes_prepare(cur, bad.data(), bad.size(), 4, false, nullptr, &next, &err),
              KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster version");
    EXPECT_EQ(next, nullptr);
    // Equal with a malformed (or different) body: OK, nothing to publish.
    next = reinterpret_cast<struct cluster_topology *>(0x1);
    EXPECT_EQ(cluster_setnodes_prepare(cur, bad.data(), bad.size(), 5, false, nullptr, &next, &err),
              KV_OK);
    EXPECT_EQ(next, nullptr);
    // Higher with a malformed body: the parse error, and nothing built.
    next = nullptr;
    EXPECT_EQ(cluster_setnodes_prepare(cur, bad.data(), bad.size(), 6, false, nullptr, &next, &err),
              KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster nodes info");
    EXPECT_EQ(next, nullptr);
    // Higher and valid: a new topology keeping my id.
    std::string text = M1 + " h1 1 master - 0-16383\n" + R1 + " h3 3 slave " + M1;
    ASSERT_EQ(
        cluster_setnodes_prepare(cur, text.data(), text.size(), 6, false, nullptr, &next, &err),
        KV_OK)
        << err.msg;
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(next->version, 6);
    EXPECT_STREQ(next->my_id, R1.c_str());
    EXPECT_EQ(next->myself, 1);
    EXPECT_EQ(cur->version, 5) << "cur never changes";
    EXPECT_EQ(cur->node_count, 3u);
    nodes_topology_free(next);
    // Force: a lower version applies; a negative one never does.
    ASSERT_EQ(
        cluster_setnodes_prepare(cur, text.data(), text.size(), 1, true, nullptr, &next, &err),
        KV_OK);
    EXPECT_EQ(next->version, 1);
    nodes_topology_free(next);
    next = nullptr;
    EXPECT_EQ(
        cluster_setnodes_prepare(cur, text.data(), text.size(), -1, true, nullptr, &next, &err),
        KV_ERR_INVALID);
    EXPECT_EQ(next, nullptr);
    nodes_topology_free(cur);
}

TEST(Cluster, SetnodesFindsMyselfByAddress)
{
    struct cluster_topology *empty = nodes_topology_new_empty();
    const char *hosts[] = {"127.0.0.1", "10.0.0.2"};
    struct cluster_self_addr self = {7002, hosts, 2};
    std::string text = Text();
    struct cluster_topology *t = nullptr;
    ASSERT_EQ(
        cluster_setnodes_prepare(empty, text.data(), text.size(), 1, false, &self, &t, nullptr),
        KV_OK);
    EXPECT_STREQ(t->my_id, M2.c_str());
    EXPECT_EQ(t->myself, 1);

    // An id that is already set wins without force...
    struct cluster_topology *next = nullptr;
    struct cluster_topology *withid = Topo(&X, 1);
    ASSERT_EQ(
        cluster_setnodes_prepare(withid, text.data(), text.size(), 2, false, &self, &next, nullptr),
        KV_OK);
    EXPECT_STREQ(next->my_id, X.c_str());
    EXPECT_EQ(next->myself, NODES_NONE);
    nodes_topology_free(next);
    // ...and force re-picks by address.
    ASSERT_EQ(
        cluster_setnodes_prepare(withid, text.data(), text.size(), 2, true, &self, &next, nullptr),
        KV_OK);
    EXPECT_STREQ(next->my_id, M2.c_str());
    nodes_topology_free(next);
    // No match keeps the old id.
    struct cluster_self_addr nowhere = {1, hosts, 2};
    ASSERT_EQ(cluster_setnodes_prepare(withid, text.data(), text.size(), 2, true, &nowhere, &next,
                                       nullptr),
              KV_OK);
    EXPECT_STREQ(next->my_id, X.c_str());
    nodes_topology_free(next);
    nodes_topology_free(withid);
    nodes_topology_free(t);
    nodes_topology_free(empty);
}

TEST(Cluster, SetnodeidAndSetslot)
{
    struct cluster_topology *cur = Topo(nullptr, 5);
    struct cluster_topology *next = nullptr;
    struct kv_err err;
    EXPECT_EQ(cluster_setnodeid_prepare(cur, "abc", 3, &next, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster node id");
    EXPECT_EQ(next, nullptr);
    ASSERT_EQ(cluster_setnodeid_prepare(cur, M2.data(), M2.size(), &next, &err), KV_OK);
    EXPECT_STREQ(next->my_id, M2.c_str());
    EXPECT_EQ(next->myself, 1);
    EXPECT_EQ(next->version, 5);
    EXPECT_STREQ(cur->my_id, "");
    nodes_topology_free(next);
    next = nullptr;

    struct cluster_slot_range r[] = {{true, 0, 0}, {true, 16001, 16383}};
    // Version must be current + 1.
    for (int64_t v : {4, 5, 7, 0, -1}) {
        EXPECT_EQ(cluster_setslot_prepare(cur, r, 2, M2.data(), M2.size(), v, &next, &err),
                  KV_ERR_INVALID);
        EXPECT_STREQ(err.msg, "Invalid cluster version") << v;
    }
    EXPECT_EQ(cluster_setslot_prepare(cur, r, 2, "x", 1, 6, &next, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster node id");
    EXPECT_EQ(cluster_setslot_prepare(cur, r, 2, X.data(), X.size(), 6, &next, &err),
              KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "No this node in the cluster");
    EXPECT_EQ(cluster_setslot_prepare(cur, r, 2, R1.data(), R1.size(), 6, &next, &err),
              KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "The node isn't a master");
    struct cluster_slot_range bad[] = {{true, 5, 16384}};
    EXPECT_EQ(cluster_setslot_prepare(cur, bad, 1, M2.data(), M2.size(), 6, &next, &err),
              KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Slot is out of range");
    EXPECT_EQ(next, nullptr);

    ASSERT_EQ(cluster_setslot_prepare(cur, r, 2, M2.data(), M2.size(), 6, &next, &err), KV_OK);
    EXPECT_EQ(next->version, 6);
    EXPECT_EQ(next->slot_owner[0], 1);
    EXPECT_EQ(next->slot_owner[1], 0);
    EXPECT_EQ(next->slot_owner[16383], 1);
    EXPECT_EQ(next->slots_assigned, (uint32_t)SLOT_COUNT);
    EXPECT_EQ(next->nodes[0].slot_count, 8191u);
    EXPECT_EQ(next->nodes[1].slot_count, 16384u - 8191u);
    EXPECT_EQ(next->size, 2u);
    EXPECT_EQ(cur->slot_owner[0], 0) << "cur never changes";
    nodes_topology_free(next);

    // Moving every slot of a master away shrinks cluster_size.
    struct cluster_slot_range all1[] = {{true, 0, 8191}};
    ASSERT_EQ(cluster_setslot_prepare(cur, all1, 1, M2.data(), M2.size(), 6, &next, &err), KV_OK);
    EXPECT_EQ(next->size, 1u);
    nodes_topology_free(next);
    nodes_topology_free(cur);
}

TEST(Cluster, RoutingMatrix)
{
    struct cluster_topology *m1 = Topo(&M1);
    struct cluster_topology *r1 = Topo(&R1);
    struct cluster_topology *out = Topo(&X);
    struct cluster_topology *none = nodes_topology_new_empty();

    // No keys: always here, even before any topology.
    EXPECT_EQ(DoRoute(none, Write({})).rc, KV_OK);
    EXPECT_EQ(DoRoute(none, Write({})).res.slot, -1);
    // Before any topology: Kvrocks says "Hash slot not served".
    Route r = DoRoute(none, Read({5}));
    EXPECT_EQ(r.rc, KV_ERR_CLUSTERDOWN);
    EXPECT_EQ(r.msg, "Hash slot not served");

    // Owner executes reads and writes.
    EXPECT_EQ(DoRoute(m1, Read({0})).rc, KV_OK);
    r = DoRoute(m1, Write({8191, 8191, 8191}));
    EXPECT_EQ(r.rc, KV_OK);
    EXPECT_EQ(r.res.slot, 8191);
    // Not the owner: MOVED to the owner's address.
    r = DoRoute(m1, Read({8192}));
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "8192 10.0.0.2:7002");
    EXPECT_EQ(r.res.slot, 8192);
    // Unassigned slot.
    r = DoRoute(m1, Write({16001}));
    EXPECT_EQ(r.rc, KV_ERR_CLUSTERDOWN);
    EXPECT_EQ(r.msg, "Hash slot not served");
    EXPECT_EQ(r.res.slot, 16001);
    // Cross slot, even when I own both.
    r = DoRoute(m1, Write({1, 2}));
    EXPECT_EQ(r.rc, KV_ERR_CROSSSLOT);
    EXPECT_EQ(r.msg, "Keys in request don't hash to the same slot");
    EXPECT_EQ(r.res.slot, -1);
    EXPECT_EQ(DoRoute(m1, Write({1, 8192})).rc, KV_ERR_CROSSSLOT);
    // READONLY on a master changes nothing.
    Req ro = Read({8192});
    ro.readonly = true;
    EXPECT_EQ(DoRoute(m1, ro).rc, KV_ERR_MOVED);

    // Replica of M1: reads of M1's slots need READONLY; writes always MOVED; other masters'
    // slots are MOVED even with READONLY.
    r = DoRoute(r1, Read({100}));
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "100 10.0.0.1:7001");
    ro = Read({100});
    ro.readonly = true;
    EXPECT_EQ(DoRoute(r1, ro).rc, KV_OK);
    Req rw = Write({100});
    rw.readonly = true;
    r = DoRoute(r1, rw);
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "100 10.0.0.1:7001");
    ro = Read({9000});
    ro.readonly = true;
    r = DoRoute(r1, ro);
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "9000 10.0.0.2:7002");

    // Not a member: MOVED everywhere, CLUSTERDOWN for unowned.
    EXPECT_EQ(DoRoute(out, Read({0})).msg, "0 10.0.0.1:7001");
    EXPECT_EQ(DoRoute(out, Read({16000})).msg, "16000 10.0.0.2:7002");
    EXPECT_EQ(DoRoute(out, Read({16383})).rc, KV_ERR_CLUSTERDOWN);

    // A real key through slot_of_key.
    uint16_t foo = slot_of_key("foo", 3); // 12182: M2
    r = DoRoute(m1, Read({foo}));
    EXPECT_EQ(r.msg, std::to_string(foo) + " 10.0.0.2:7002");

    nodes_topology_free(m1);
    nodes_topology_free(r1);
    nodes_topology_free(out);
    nodes_topology_free(none);
}

TEST(Cluster, RoutingDuringMigration)
{
    struct cluster_topology *m1 = Topo(&M1);
    struct cluster_topology *m2 = Topo(&M2);

    // Source M1 migrates 10-20 to M2: forbidden window, then success (topology not updated).
    struct cluster_migration_view src = {};
    src.migrating = {true, 10, 20};
    snprintf(src.migrating_dst_id, sizeof src.migrating_dst_id, "%s", M2.c_str());
    snprintf(src.migrating_addr, sizeof src.migrating_addr, "10.0.0.2:7002");
    EXPECT_EQ(DoRoute(m1, Write({10}), &src).rc, KV_OK) << "Kvrocks: no ASK by default";
    src.forbidden = {true, 10, 20};
    Route r = DoRoute(m1, Write({15}), &src);
    EXPECT_EQ(r.rc, KV_ERR_TRYAGAIN);
    EXPECT_EQ(r.msg, "Can't write to slot being migrated which is in write forbidden phase");
    EXPECT_EQ(DoRoute(m1, Read({15}), &src).rc, KV_OK) << "reads go on";
    EXPECT_EQ(DoRoute(m1, Write({21}), &src).rc, KV_OK);
    struct cluster_migrated_slots done[1] = {};
    done[0].range = {true, 10, 20};
    snprintf(done[0].addr, sizeof done[0].addr, "10.0.0.2:7002");
    src.forbidden = {};
    src.migrated = done;
    src.migrated_count = 1;
    r = DoRoute(m1, Read({12}), &src);
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "12 10.0.0.2:7002");
    EXPECT_EQ(DoRoute(m1, Read({9}), &src).rc, KV_OK);

    // ASK mode (Redis's MIGRATING): the server looks the keys up when asked to.
    struct cluster_migration_view ask = {};
    ask.migrating = {true, 10, 20};
    ask.ask_absent_keys = true;
    snprintf(ask.migrating_addr, sizeof ask.migrating_addr, "10.0.0.2:7002");
    r = DoRoute(m1, Read({10}), &ask);
    EXPECT_EQ(r.rc, KV_OK);
    EXPECT_TRUE(r.res.check_keys);
    Req q = Read({10});
    q.keys = CLUSTER_KEYS_ALL_ABSENT;
    r = DoRoute(m1, q, &ask);
    EXPECT_EQ(r.rc, KV_ERR_ASK);
    EXPECT_EQ(r.msg, "10 10.0.0.2:7002");
    q.keys = CLUSTER_KEYS_SOME_ABSENT;
    r = DoRoute(m1, q, &ask);
    EXPECT_EQ(r.rc, KV_ERR_TRYAGAIN);
    EXPECT_EQ(r.msg, "Multiple keys request during rehashing of slot");
    q.keys = CLUSTER_KEYS_ALL_PRESENT;
    r = DoRoute(m1, q, &ask);
    EXPECT_EQ(r.rc, KV_OK);
    EXPECT_FALSE(r.res.check_keys);
    r = DoRoute(m1, Read({30}), &ask);
    EXPECT_EQ(r.rc, KV_OK);
    EXPECT_FALSE(r.res.check_keys);

    // Destination M2 imports 10-20: the import link and ASKING clients only.
    struct cluster_migration_view dst = {};
    dst.importing = {true, 10, 20};
    r = DoRoute(m2, Write({10}), &dst);
    EXPECT_EQ(r.rc, KV_ERR_MOVED);
    EXPECT_EQ(r.msg, "10 10.0.0.1:7001");
    Req a = Write({10});
    a.asking = true;
    EXPECT_EQ(DoRoute(m2, a, &dst).rc, KV_OK);
    a = Write({20});
    a.importing = true;
    EXPECT_EQ(DoRoute(m2, a, &dst).rc, KV_OK);
    a = Write({21});
    a.asking = true;
    EXPECT_EQ(DoRoute(m2, a, &dst).rc, KV_ERR_MOVED);
    // Imported with success, topology not updated yet: served to everyone.
    struct cluster_slot_range imported[] = {{true, 10, 20}};
    dst.importing = {};
    dst.imported = imported;
    dst.imported_count = 1;
    EXPECT_EQ(DoRoute(m2, Write({15}), &dst).rc, KV_OK);
    EXPECT_EQ(DoRoute(m2, Write({9}), &dst).rc, KV_ERR_MOVED);
    // Unowned slots stay CLUSTERDOWN even if "importing" (Kvrocks checks the owner first).
    dst.importing = {true, 16100, 16100};
    a = Write({16100});
    a.asking = true;
    EXPECT_EQ(DoRoute(m2, a, &dst).rc, KV_ERR_CLUSTERDOWN);

    nodes_topology_free(m1);
    nodes_topology_free(m2);
}

TEST(Cluster, RolesAndChanges)
{
    struct cluster_role before, after;
    struct cluster_topology *none = nodes_topology_new_empty();
    cluster_role_of(none, &before);
    EXPECT_EQ(before.kind, CLUSTER_ROLE_NONE);

    struct cluster_topology *r1 = Topo(&R1);
    cluster_role_of(r1, &after);
    EXPECT_EQ(after.kind, CLUSTER_ROLE_REPLICA);
    EXPECT_STREQ(after.master_id, M1.c_str());
    EXPECT_STREQ(after.master_host, "10.0.0.1");
    EXPECT_EQ(after.master_port, 7001);
    EXPECT_EQ(cluster_role_change(&before, &after), CLUSTER_ROLE_BECOME_REPLICA);
    EXPECT_EQ(cluster_role_change(&after, &after), CLUSTER_ROLE_UNCHANGED);

    // Same master address under a new version: unchanged. Another master: re-point.
    std::string moved = M2 + " 10.0.0.2 7002 master - 0-100\n" + R1 + " 10.0.0.3 7003 slave " + M2 +
                        "\n" + M1 + " 10.0.0.1 7001 master - 200";
    struct cluster_topology *r1b = Topo(&R1, 6, moved);
    struct cluster_role other;
    cluster_role_of(r1b, &other);
    EXPECT_EQ(other.kind, CLUSTER_ROLE_REPLICA);
    EXPECT_STREQ(other.master_host, "10.0.0.2");
    EXPECT_EQ(cluster_role_change(&after, &other), CLUSTER_ROLE_BECOME_REPLICA);
    struct cluster_role same_addr = other;
    snprintf(same_addr.master_id, sizeof same_addr.master_id, "%s", Id('7').c_str());
    EXPECT_EQ(cluster_role_change(&other, &same_addr), CLUSTER_ROLE_UNCHANGED);
    struct cluster_role port_differs = other;
    port_differs.master_port = 7999;
    EXPECT_EQ(cluster_role_change(&other, &port_differs), CLUSTER_ROLE_BECOME_REPLICA);

    // Promotion, demotion, leaving.
    struct cluster_topology *m1 = Topo(&M1);
    struct cluster_role master;
    cluster_role_of(m1, &master);
    EXPECT_EQ(master.kind, CLUSTER_ROLE_MASTER);
    EXPECT_STREQ(master.master_host, "");
    EXPECT_EQ(cluster_role_change(&after, &master), CLUSTER_ROLE_BECOME_MASTER);
    EXPECT_EQ(cluster_role_change(&master, &master), CLUSTER_ROLE_UNCHANGED);
    EXPECT_EQ(cluster_role_change(&master, &after), CLUSTER_ROLE_BECOME_REPLICA);
    EXPECT_EQ(cluster_role_change(&before, &master), CLUSTER_ROLE_BECOME_MASTER);
    struct cluster_topology *gone = Topo(&X);
    struct cluster_role left;
    cluster_role_of(gone, &left);
    EXPECT_EQ(left.kind, CLUSTER_ROLE_NONE);
    EXPECT_EQ(cluster_role_change(&after, &left), CLUSTER_ROLE_LEAVE);
    EXPECT_EQ(cluster_role_change(&master, &left), CLUSTER_ROLE_LEAVE);
    EXPECT_EQ(cluster_role_change(&left, &before), CLUSTER_ROLE_UNCHANGED);

    nodes_topology_free(none);
    nodes_topology_free(r1);
    nodes_topology_free(r1b);
    nodes_topology_free(m1);
    nodes_topology_free(gone);
}

TEST(Cluster, FormatsNodesReplicasInfoSlots)
{
    struct kv_err err;
    struct kv_buf b = KV_BUF_INIT;
    struct cluster_topology *none = nodes_topology_new_empty();
    EXPECT_EQ(cluster_format_nodes(none, nullptr, 1000, &b, &err), KV_ERR_CLUSTERDOWN);
    EXPECT_STREQ(err.msg, "The cluster is not initialized");
    EXPECT_EQ(cluster_format_info(none, &b, &err), KV_ERR_CLUSTERDOWN);
    EXPECT_STREQ(err.msg, "The cluster is not initialized");
    EXPECT_EQ(cluster_format_replicas(none, M1.data(), 40, 1000, &b, &err), KV_ERR_CLUSTERDOWN);
    struct cluster_slot_run *runs = nullptr;
    size_t n = 0;
    EXPECT_EQ(cluster_slot_runs(none, &runs, &n, &err), KV_ERR_CLUSTERDOWN);
    EXPECT_EQ(b.len, 0u);

    std::string text = M1 + " 10.0.0.1 7001 master - 0-2 4-8191\n" + M2 +
                       " 10.0.0.2 7002 master - 3 8192-16000\n" + R1 + " 10.0.0.3 7003 slave " +
                       M1 + "\n" + X + " 10.0.0.9 7009 master -\n";
    struct cluster_topology *t = Topo(&R1, 12, text);
    ASSERT_EQ(cluster_format_nodes(t, nullptr, 1700000000000, &b, &err), KV_OK);
    EXPECT_EQ(Str(b), M1 + " 10.0.0.1:7001@17001 master - 1699999999999 1700000000000 12 " +
                          "connected 0-2 4-8191\n" + M2 +
                          " 10.0.0.2:7002@17002 master - 1699999999999 1700000000000 12 " +
                          "connected 3 8192-16000\n" + R1 + " 10.0.0.3:7003@17003 myself,slave " +
                          M1 + " 1699999999999 1700000000000 12 connected\n" + X +
                          " 10.0.0.9:7009@17009 master - 1699999999999 1700000000000 12 " +
                          "connected\n");
    kv_buf_clear(&b);

    // Migration marks on my line (Kvrocks: " [range->-dst]" and " [range-<-src]").
    struct cluster_topology *m1 = Topo(&M1, 12, text);
    struct cluster_migration_view mv = {};
    mv.migrating = {true, 5, 6};
    snprintf(mv.migrating_dst_id, sizeof mv.migrating_dst_id, "%s", M2.c_str());
    mv.importing = {true, 3, 3};
    ASSERT_EQ(cluster_format_nodes(m1, &mv, 2, &b, &err), KV_OK);
    std::string first = Str(b).substr(0, Str(b).find('\n'));
    EXPECT_EQ(first,
              M1 + " 10.0.0.1:7001@17001 myself,master - 1 2 12 connected 0-2 4-8191 [5-6->-" + M2 +
                  "] [3-<-" + M2 + "]");
    kv_buf_clear(&b);

    ASSERT_EQ(cluster_format_replicas(t, M1.data(), 40, 2, &b, &err), KV_OK);
    EXPECT_EQ(Str(b), R1 + " 10.0.0.3:7003@17003 slave " + M1 + " 1 2 12 connected\n");
    kv_buf_clear(&b);
    ASSERT_EQ(cluster_format_replicas(t, M2.data(), 40, 2, &b, &err), KV_OK);
    EXPECT_EQ(b.len, 0u);
    EXPECT_EQ(cluster_format_replicas(t, R1.data(), 40, 2, &b, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "The node isn't a master");
    EXPECT_EQ(cluster_format_replicas(t, "nope", 4, 2, &b, &err), KV_ERR_INVALID);
    EXPECT_STREQ(err.msg, "Invalid cluster node id");

    ASSERT_EQ(cluster_format_info(t, &b, &err), KV_OK);
    EXPECT_EQ(Str(b), "cluster_state:ok\r\ncluster_slots_assigned:16001\r\n"
                      "cluster_slots_ok:16001\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n"
                      "cluster_known_nodes:4\r\ncluster_size:2\r\ncluster_current_epoch:12\r\n"
                      "cluster_my_epoch:12\r\n");
    kv_buf_clear(&b);

    ASSERT_EQ(cluster_slot_runs(t, &runs, &n, &err), KV_OK);
    ASSERT_EQ(n, 4u);
    EXPECT_EQ(runs[0].start, 0);
    EXPECT_EQ(runs[0].end, 2);
    EXPECT_EQ(runs[0].master, 0);
    EXPECT_EQ(runs[1].start, 3);
    EXPECT_EQ(runs[1].end, 3);
    EXPECT_EQ(runs[1].master, 1);
    EXPECT_EQ(runs[2].start, 4);
    EXPECT_EQ(runs[2].end, 8191);
    EXPECT_EQ(runs[3].start, 8192);
    EXPECT_EQ(runs[3].end, 16000);
    EXPECT_EQ(runs[3].master, 1);
    const struct nodes_node *m = &t->nodes[runs[0].master];
    ASSERT_EQ(m->replica_count, 1u);
    EXPECT_EQ(t->replicas[m->replica_first], 2);
    kv_free(runs);

    EXPECT_TRUE(cluster_owns_slot(m1, 0));
    EXPECT_FALSE(cluster_owns_slot(m1, 3));
    EXPECT_FALSE(cluster_owns_slot(t, 0)) << "a replica owns nothing";

    kv_buf_deinit(&b);
    nodes_topology_free(none);
    nodes_topology_free(t);
    nodes_topology_free(m1);
}

TEST(Cluster, SnapshotRefcounting)
{
    struct cluster_state *s = cluster_state_new(nullptr);
    const struct cluster_topology *t0 = cluster_state_acquire(s);
    EXPECT_EQ(t0->version, -1);
    EXPECT_EQ(t0->refs, 2);

    struct cluster_topology *t1 = Topo(&M1, 1);
    cluster_state_writer_lock(s);
    cluster_state_publish(s, t1);
    cluster_state_writer_unlock(s);
    // The old snapshot stays valid for its holder.
    EXPECT_EQ(t0->version, -1);
    EXPECT_EQ(t0->refs, 1);
    const struct cluster_topology *cur = cluster_state_acquire(s);
    EXPECT_EQ(cur, t1);
    EXPECT_EQ(cur->refs, 2);
    EXPECT_EQ(cluster_topology_ref(cur), cur);
    EXPECT_EQ(cur->refs, 3);
    cluster_topology_unref(cur);
    cluster_topology_unref(cur);
    cluster_topology_unref(t0); // frees the empty topology (ASan checks)
    cluster_topology_unref(nullptr);
    cluster_state_free(s); // frees t1
    cluster_state_free(nullptr);
}

// Readers take and drop references while a writer publishes 1000 versions; every snapshot a
// reader sees is whole (its contents agree with its version) and versions never go backwards.
// ASan/TSan builds catch any use after free or race.
TEST(Cluster, SnapshotSwapUnderConcurrentReaders)
{
    constexpr int kVersions = 1000;
    constexpr int kReaders = 3;
    std::string v0 = M1 + " h1 1 master - 0\n" + M2 + " h2 2 master - 1-16383";
    struct cluster_state *s = cluster_state_new(Topo(&M1, 0, v0));
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    std::atomic<int> failures{0};

    auto reader = [&]() {
        int64_t last = -1;
        long n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const struct cluster_topology *t = cluster_state_acquire(s);
            // Version v: M1 owns 0..v, M2 owns the rest. Route like a command would.
            int64_t v = t->version;
            uint16_t edge = (uint16_t)v;
            uint16_t slots[1] = {(uint16_t)(n % SLOT_COUNT)};
            struct cluster_route_req req = {};
            req.slots = slots;
            req.nslots = 1;
            enum kv_code rc = cluster_route(t, nullptr, &req, nullptr, nullptr);
            bool whole = t->node_count == 2 && t->slot_owner[edge] == 0 &&
                         t->slot_owner[edge + 1] == 1 && t->slot_owner[16383] == 1 &&
                         t->nodes[0].slot_count == (uint32_t)edge + 1 &&
                         strcmp(t->my_id, M1.c_str()) == 0 &&
                         __atomic_load_n(&t->refs, __ATOMIC_RELAXED) >= 1 &&
                         rc == (slots[0] <= edge ? KV_OK : KV_ERR_MOVED);
            if (!whole || v < last)
                failures++;
            last = v;
            cluster_topology_unref(t);
            n++;
        }
        reads += n;
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < kReaders; i++)
        threads.emplace_back(reader);

    for (int v = 1; v <= kVersions; v++) {
        std::string text = M1 + " h1 1 master - 0-" + std::to_string(v) + "\n" + M2 +
                           " h2 2 master - " + std::to_string(v + 1) + "-16383";
        cluster_state_writer_lock(s);
        const struct cluster_topology *cur = cluster_state_acquire(s);
        struct cluster_topology *next = nullptr;
        struct kv_err err;
        ASSERT_EQ(
            cluster_setnodes_prepare(cur, text.data(), text.size(), v, false, nullptr, &next, &err),
            KV_OK)
            << err.msg;
        ASSERT_NE(next, nullptr);
        cluster_state_publish(s, next);
        cluster_topology_unref(cur);
        cluster_state_writer_unlock(s);
    }
    stop = true;
    for (auto &th : threads)
        th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_GT(reads.load(), 0);
    const struct cluster_topology *last = cluster_state_acquire(s);
    EXPECT_EQ(last->version, kVersions);
    EXPECT_EQ(last->refs, 2);
    cluster_topology_unref(last);
    cluster_state_free(s);
}

TEST(Cluster, NodesFileRoundTripAndCorruption)
{
    TempDir tmp;
    std::string dir = tmp.path();
    std::string path = dir + "/nodes.conf";
    struct kv_err err;
    kv_err_clear(&err);
    struct cluster_topology *t = nullptr;

    EXPECT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_NOTFOUND);
    EXPECT_EQ(t, nullptr);
    EXPECT_EQ(nodes_file_remove(path.c_str(), &err), KV_OK) << "missing is fine";

    std::string text = M1 + " 127.0.0.1 7001 master - 0-1 2 4-8191 8192 8193 10000 " +
                       "10002-11002 16381 16382-16383\n" + M2 + " 127.0.0.1 7002 master - 3\n" +
                       R1 + " 127.0.0.1 7003 slave " + M1;
    struct cluster_topology *saved = Topo(&R1, 2, text);
    ASSERT_EQ(nodes_file_save(path.c_str(), saved, &err), KV_OK) << err.msg;
    struct stat st;
    EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0) << "no temp file left";

    ASSERT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_OK) << err.msg;
    EXPECT_EQ(t->version, 2);
    EXPECT_STREQ(t->my_id, R1.c_str());
    EXPECT_EQ(t->myself, 2);
    EXPECT_EQ(memcmp(t->slot_owner, saved->slot_owner, sizeof t->slot_owner), 0);
    struct kv_buf a = KV_BUF_INIT, b = KV_BUF_INIT;
    ASSERT_EQ(cluster_format_nodes(saved, nullptr, 5, &a, &err), KV_OK);
    ASSERT_EQ(cluster_format_nodes(t, nullptr, 5, &b, &err), KV_OK);
    EXPECT_EQ(Str(a), Str(b)) << "CLUSTER NODES equal across a restart";
    struct cluster_role role;
    cluster_role_of(t, &role);
    EXPECT_EQ(role.kind, CLUSTER_ROLE_REPLICA);
    EXPECT_EQ(role.master_port, 7001);
    kv_buf_deinit(&a);
    kv_buf_deinit(&b);
    nodes_topology_free(t);
    t = nullptr;

    // Overwrite with a newer version: the file holds exactly the new one.
    struct cluster_topology *v3 = Topo(&M1, 3);
    ASSERT_EQ(nodes_file_save(path.c_str(), v3, &err), KV_OK) << err.msg;
    ASSERT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_OK) << err.msg;
    EXPECT_EQ(t->version, 3);
    EXPECT_EQ(t->node_count, 3u);
    nodes_topology_free(t);
    t = nullptr;

    // A corrupt file: refused with the path and line.
    FILE *f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f, "version 4\nid %s\nnode %s h 1 master - 0-100\nnode %s h 2 master - 50\n",
            M1.c_str(), M1.c_str(), M2.c_str());
    fclose(f);
    EXPECT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_ERR_CORRUPT);
    EXPECT_EQ(std::string(err.msg), path + ": line 3: Slot distribution is overlapped");
    EXPECT_EQ(t, nullptr);
    f = fopen(path.c_str(), "w");
    fprintf(f, "garbage\x01\n");
    fclose(f);
    EXPECT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_ERR_CORRUPT);
    EXPECT_EQ(t, nullptr);

    // Unwritable directory: an I/O error, and the old file is intact.
    std::string missing = dir + "/no/such/dir/nodes.conf";
    EXPECT_EQ(nodes_file_save(missing.c_str(), v3, &err), KV_ERR_IO);
    EXPECT_NE(std::string(err.msg).find("No such file or directory"), std::string::npos) << err.msg;

    EXPECT_EQ(nodes_file_remove(path.c_str(), &err), KV_OK);
    EXPECT_NE(stat(path.c_str(), &st), 0);
    EXPECT_EQ(nodes_file_load(path.c_str(), &t, &err), KV_NOTFOUND);

    nodes_topology_free(saved);
    nodes_topology_free(v3);
}
