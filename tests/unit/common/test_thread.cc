// SPDX-License-Identifier: Apache-2.0
#include <atomic>
#include <cstring>
#include <poll.h>
#include <pthread.h>
#include <string>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/thread.h"

namespace {

struct Probe {
    std::atomic<bool> started{false};
    std::atomic<bool> saw_stop{false};
    std::atomic<bool> current_ok{false};
    char name[32] = {0};
    int64_t block_ms = 0; // for the stubborn thread: how long to ignore stop requests
};

// Blocks in poll() on the stop fd alone, with a long timeout, as a network thread would.
void
PollingBody(struct kv_thread *self, void *arg)
{
    auto *p = static_cast<Probe *>(arg);
    p->current_ok = kv_thread_current() == self;
    pthread_getname_np(pthread_self(), p->name, sizeof p->name);
    p->started = true;
    struct pollfd pfd = {kv_thread_stop_fd(self), POLLIN, 0};
    int n = poll(&pfd, 1, 3000);
    p->saw_stop = n == 1 && kv_thread_should_stop(self);
}

// Ignores stop requests for block_ms.
void
StubbornBody(struct kv_thread *self, void *arg)
{
    auto *p = static_cast<Probe *>(arg);
    p->started = true;
    clock_sleep_ms(p->block_ms);
    p->saw_stop = kv_thread_should_stop(self);
}

void
WaitStarted(const Probe &p)
{
    int64_t deadline = clock_mono_ms() + 5000;
    while (!p.started && clock_mono_ms() < deadline)
        clock_sleep_ms(1);
    ASSERT_TRUE(p.started) << "thread did not start within 5 s";
}

// Join with a bound; when that fails, still wait for the thread before the test's stack
// frame (which the thread uses) goes away.
enum kv_code
JoinOrDrain(struct kv_thread *t, int64_t timeout_ms)
{
    enum kv_code rc = kv_thread_join_timeout(t, timeout_ms);
    if (rc != KV_OK) {
        EXPECT_EQ(kv_thread_join_timeout(t, 10000), KV_OK);
    }
    return rc;
}

} // namespace

TEST(Thread, StopWakesPollAndJoinsQuickly)
{
    Probe p;
    struct kv_thread *t = nullptr;
    struct kv_err err;
    ASSERT_EQ(kv_thread_start(&t, PollingBody, &p, "test-poller-with-long-name", &err), KV_OK)
        << err.msg;
    WaitStarted(p);
    EXPECT_TRUE(kv_thread_is_running(t));
    EXPECT_FALSE(kv_thread_should_stop(t));
    EXPECT_EQ(kv_thread_current(), nullptr) << "the test thread was not started by kv_thread";
    EXPECT_STREQ(kv_thread_name(t), "test-poller-wit");

    int64_t t0 = clock_mono_ms();
    kv_thread_request_stop(t);
    kv_thread_request_stop(t); // idempotent
    EXPECT_TRUE(kv_thread_should_stop(t));
    EXPECT_EQ(JoinOrDrain(t, 2000), KV_OK);
    EXPECT_LT(clock_mono_ms() - t0, 500) << "stop fd did not wake the poll promptly";
    EXPECT_TRUE(p.saw_stop);
    EXPECT_TRUE(p.current_ok);
    EXPECT_STREQ(p.name, "test-poller-wit") << "name truncated to 15 bytes";
}

TEST(Thread, JoinTimesOutThenSucceeds)
{
    Probe p;
    p.block_ms = 400;
    struct kv_thread *t = nullptr;
    ASSERT_EQ(kv_thread_start(&t, StubbornBody, &p, "stubborn", nullptr), KV_OK);
    WaitStarted(p);
    int64_t t0 = clock_mono_ms();
    kv_thread_request_stop(t);
    EXPECT_EQ(kv_thread_join_timeout(t, 50), KV_ERR_TIMEOUT);
    int64_t waited = clock_mono_ms() - t0;
    EXPECT_GE(waited, 45);
    EXPECT_LT(waited, 300) << "join_timeout overran its bound";
    EXPECT_TRUE(kv_thread_is_running(t)) << "handle must stay valid after a timeout";
    EXPECT_EQ(kv_thread_join_timeout(t, 0), KV_ERR_TIMEOUT);
    EXPECT_EQ(JoinOrDrain(t, 5000), KV_OK);
    EXPECT_TRUE(p.saw_stop);
}

TEST(Thread, StopHelperAndFinishedThread)
{
    Probe p;
    struct kv_thread *t = nullptr;
    ASSERT_EQ(kv_thread_start(&t, PollingBody, &p, "stopper", nullptr), KV_OK);
    WaitStarted(p);
    enum kv_code rc = kv_thread_stop(t, 2000);
    EXPECT_EQ(rc, KV_OK);
    if (rc != KV_OK) {
        EXPECT_EQ(kv_thread_join_timeout(t, 10000), KV_OK);
    }
    EXPECT_TRUE(p.saw_stop);

    // A thread that ends on its own is joinable with a zero timeout once it has finished.
    Probe q;
    q.block_ms = 0;
    ASSERT_EQ(kv_thread_start(&t, StubbornBody, &q, "quick", nullptr), KV_OK);
    int64_t deadline = clock_mono_ms() + 5000;
    while (kv_thread_is_running(t) && clock_mono_ms() < deadline)
        clock_sleep_ms(1);
    ASSERT_FALSE(kv_thread_is_running(t));
    EXPECT_EQ(JoinOrDrain(t, 1000), KV_OK);
    EXPECT_FALSE(q.saw_stop);
}
