// SPDX-License-Identifier: Apache-2.0
//
// keylock with group commit: a thread whose writes are staged, or whose staging is enabled,
// keeps its stripes until it commits and releases them (a worker's round end); it takes them
// over itself without waiting; and before it would wait for a stripe held elsewhere it commits
// and releases them, so two such threads never deadlock.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fixture.h"

namespace {

class KeylockTest : public StorageTest {
  protected:
    struct kv_slice ns_ = kv_slice_cstr("ns");

    void
    Lock(const std::string &key, struct keylock_guard *g)
    {
        keylock_lock1(locks_, ns_, S(key), g);
    }

    // Stage one put on this thread (its stage must be enabled).
    void
    Stage(const std::string &key)
    {
        struct storage_batch *b = storage_batch_new(st_);
        storage_batch_put(b, KV_CF_METADATA, S(key), kv_slice_cstr("v"));
        struct kv_err err;
        kv_err_clear(&err);
        ASSERT_EQ(storage_write(st_, b, &err), KV_OK) << err.msg;
        storage_batch_free(b);
    }

    // Whether another thread gets key's lock within `ms`; it keeps trying in the background
    // otherwise, and *t must be joined.
    bool
    OtherLocksWithin(const std::string &key, int ms, std::thread *t, std::atomic<bool> *got)
    {
        *t = std::thread([this, key, got] {
            struct keylock_guard g;
            Lock(key, &g);
            got->store(true);
            keylock_unlock(&g);
        });
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (!got->load() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return got->load();
    }
};

TEST_F(KeylockTest, UnlockReleasesAtOnceWithoutStaging)
{
    struct keylock_guard g;
    Lock("k", &g);
    keylock_unlock(&g);
    EXPECT_FALSE(keylock_holds_deferred());
    std::thread t;
    std::atomic<bool> got{false};
    EXPECT_TRUE(OtherLocksWithin("k", 5000, &t, &got));
    t.join();
}

TEST_F(KeylockTest, StripesOfStagedWritesAreHeldUntilReleasedAfterTheCommit)
{
    storage_stage_enable(true);
    struct keylock_guard g;
    Lock("k", &g);
    Stage("k");
    keylock_unlock(&g);
    EXPECT_TRUE(keylock_holds_deferred());

    // The same thread takes the stripe over without waiting, and defers it again.
    Lock("k", &g);
    Stage("k");
    keylock_unlock(&g);

    std::thread t;
    std::atomic<bool> got{false};
    EXPECT_FALSE(OtherLocksWithin("k", 100, &t, &got)) << "another thread took a held stripe";
    struct kv_err err;
    kv_err_clear(&err);
    ASSERT_EQ(storage_stage_commit(&err), KV_OK) << err.msg;
    EXPECT_FALSE(got.load()); // committed, but not released yet
    keylock_release_deferred();
    t.join();
    EXPECT_TRUE(got.load());
    EXPECT_FALSE(keylock_holds_deferred());
    storage_stage_enable(false);
}

TEST_F(KeylockTest, AThreadAboutToWaitCommitsAndReleasesWhatItHoldsForStagedWrites)
{
    // A holds "a" for a staged write; B holds "b" and waits for "a"; A then wants "b". Unless
    // A commits and releases "a" before it waits, neither proceeds.
    storage_stage_enable(true);
    struct keylock_guard ga;
    Lock("a", &ga);
    Stage("a");
    keylock_unlock(&ga);
    ASSERT_TRUE(keylock_holds_deferred());

    std::atomic<bool> b_holds{false}, b_done{false};
    std::thread b([&] {
        struct keylock_guard gb, gb2;
        Lock("b", &gb);
        b_holds.store(true);
        Lock("a", &gb2); // waits for A
        keylock_unlock(&gb2);
        keylock_unlock(&gb);
        b_done.store(true);
    });
    while (!b_holds.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // let B wait on "a"
    struct keylock_guard gb;
    Lock("b", &gb); // would deadlock without the commit-and-release
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_EQ(storage_latest_seq(st_), 1u); // the staged put is in the DB
    keylock_unlock(&gb);
    b.join();
    EXPECT_TRUE(b_done.load());
    EXPECT_TRUE(keylock_holds_deferred()); // "b", until the round ends
    keylock_settle();
    EXPECT_FALSE(keylock_holds_deferred());
    storage_stage_enable(false);
}

// A staging thread (a worker in its round) keeps the stripes of commands that wrote nothing too:
// a hot key changes threads once a round, not once a command. The round's end (keylock_settle)
// releases them.
TEST_F(KeylockTest, AStagingThreadKeepsStripesOfCommandsThatWroteNothingUntilItSettles)
{
    storage_stage_enable(true);
    struct keylock_guard g;
    Lock("k", &g);
    keylock_unlock(&g);
    EXPECT_FALSE(storage_stage_pending());
    EXPECT_TRUE(keylock_holds_deferred());
    Lock("k", &g); // taken over without waiting
    keylock_unlock(&g);

    std::thread t;
    std::atomic<bool> got{false};
    EXPECT_FALSE(OtherLocksWithin("k", 100, &t, &got)) << "another thread took a held stripe";
    keylock_settle();
    t.join();
    EXPECT_TRUE(got.load());
    EXPECT_FALSE(keylock_holds_deferred());
    storage_stage_enable(false);
}

// keylock_take_waited tells a thread whether it found a stripe held by another since it last
// asked (a worker then sleeps rather than polls: server/worker.c).
TEST_F(KeylockTest, TakeWaitedReportsContentionOnce)
{
    (void)keylock_take_waited();
    struct keylock_guard g;
    Lock("k", &g);
    keylock_unlock(&g);
    EXPECT_FALSE(keylock_take_waited()); // free stripe: no wait

    std::atomic<bool> holds{false}, release{false};
    std::thread other([&] {
        struct keylock_guard og;
        Lock("k", &og);
        holds.store(true);
        while (!release.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        keylock_unlock(&og);
    });
    while (!holds.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        release.store(true);
    });
    Lock("k", &g); // held by `other` until the releaser lets it go
    keylock_unlock(&g);
    other.join();
    releaser.join();
    EXPECT_TRUE(keylock_take_waited());
    EXPECT_FALSE(keylock_take_waited());
}

TEST_F(KeylockTest, TrylockTakesAFreeOrOwnDeferredStripeAndNeverWaits)
{
    struct keylock_guard g;
    ASSERT_TRUE(keylock_trylock1(locks_, ns_, S("k"), &g));
    keylock_unlock(&g);
    {
        HeldKey held(locks_, ns_, "k");
        EXPECT_FALSE(keylock_trylock1(locks_, ns_, S("k"), &g));
        EXPECT_TRUE(held.StillHeld());
        keylock_unlock(&g); // a zeroed guard: nothing to release
    }
    // A stripe this thread keeps for its staged writes is taken over.
    storage_stage_enable(true);
    Lock("k", &g);
    Stage("k");
    keylock_unlock(&g);
    ASSERT_TRUE(keylock_holds_deferred());
    ASSERT_TRUE(keylock_trylock1(locks_, ns_, S("k"), &g));
    keylock_unlock(&g);
    keylock_settle();
    EXPECT_FALSE(keylock_holds_deferred());
    storage_stage_enable(false);
    std::thread t;
    std::atomic<bool> got{false};
    EXPECT_TRUE(OtherLocksWithin("k", 5000, &t, &got));
    t.join();
}

} // namespace
