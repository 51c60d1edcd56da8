// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/netio.h"

namespace {

// A loopback listener on an ephemeral port. It accepts only when asked, so connections that
// are never accepted still complete (the kernel queues them), which gives a peer that never
// answers.
class Listener {
  public:
    explicit Listener(int backlog = 16)
    {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(fd_, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(bind(fd_, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa), 0);
        EXPECT_EQ(listen(fd_, backlog), 0);
        socklen_t len = sizeof sa;
        EXPECT_EQ(getsockname(fd_, reinterpret_cast<struct sockaddr *>(&sa), &len), 0);
        port_ = ntohs(sa.sin_port);
    }
    ~Listener()
    {
        close(fd_);
    }
    uint16_t
    port() const
    {
        return port_;
    }
    // Accept one connection, waiting at most 5 s.
    int
    Accept()
    {
        struct pollfd pfd = {fd_, POLLIN, 0};
        if (poll(&pfd, 1, 5000) != 1)
            return -1;
        return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

int64_t
In(int64_t ms)
{
    return clock_mono_ms() + ms;
}

// A connected client/server pair over loopback.
struct Pair {
    Listener listener;
    int client = -1;
    int server = -1;
    Pair()
    {
        struct kv_err err;
        EXPECT_EQ(netio_connect("127.0.0.1", listener.port(), In(5000), -1, &client, &err), KV_OK)
            << err.msg;
        server = listener.Accept();
        EXPECT_GE(server, 0);
    }
    ~Pair()
    {
        if (client >= 0)
            close(client);
        if (server >= 0)
            close(server);
    }
};

void
SendRaw(int fd, const std::string &s)
{
    ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), (ssize_t)s.size());
}

} // namespace

TEST(Netio, ConnectWriteAndReadBack)
{
    Pair p;
    ASSERT_GE(p.client, 0);
    struct kv_err err;
    const std::string msg = "PING\r\n";
    ASSERT_EQ(netio_write_all(p.client, msg.data(), msg.size(), In(1000), -1, &err), KV_OK);
    char buf[64];
    size_t n = 0;
    ASSERT_EQ(netio_read_some(p.server, buf, sizeof buf, &n, In(1000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(buf, n), msg);

    // A name is resolved too.
    Listener l;
    int fd = -1;
    ASSERT_EQ(netio_connect("localhost", l.port(), In(5000), -1, &fd, &err), KV_OK) << err.msg;
    close(fd);
}

TEST(Netio, ConnectRefused)
{
    uint16_t port;
    {
        Listener l;
        port = l.port();
    } // closed: nothing listens there now
    int fd = 12345;
    struct kv_err err;
    EXPECT_EQ(netio_connect("127.0.0.1", port, In(2000), -1, &fd, &err), KV_ERR_IO);
    EXPECT_NE(strstr(err.msg, "refused"), nullptr) << err.msg;
    EXPECT_NE(strstr(err.msg, std::to_string(port).c_str()), nullptr) << err.msg;
    EXPECT_EQ(fd, 12345) << "fd_out untouched on failure";
}

TEST(Netio, ConnectTimeoutAndStopOnFullBacklog)
{
    // With backlog 0 and nobody accepting, Linux completes one handshake and then drops SYNs:
    // further connects hang in SYN_SENT, a deterministic unanswered peer on loopback.
    Listener l(0);
    std::vector<int> filled;
    struct kv_err err;
    bool hung = false;
    for (int i = 0; i < 16 && !hung; i++) {
        int fd = -1;
        int64_t t0 = clock_mono_ms();
        enum kv_code rc = netio_connect("127.0.0.1", l.port(), In(150), -1, &fd, &err);
        if (rc == KV_OK) {
            filled.push_back(fd);
            continue;
        }
        ASSERT_EQ(rc, KV_ERR_TIMEOUT) << err.msg;
        int64_t waited = clock_mono_ms() - t0;
        EXPECT_GE(waited, 140);
        EXPECT_LT(waited, 1000);
        EXPECT_NE(strstr(err.msg, "timed out"), nullptr) << err.msg;
        hung = true;
    }
    ASSERT_TRUE(hung) << "the accept queue never filled";

    // The same hanging connect returns at once when the stop fd is already readable...
    int stop = eventfd(1, EFD_CLOEXEC);
    int fd = -1;
    int64_t t0 = clock_mono_ms();
    EXPECT_EQ(netio_connect("127.0.0.1", l.port(), In(10000), stop, &fd, &err), KV_ERR_STOPPED);
    EXPECT_LT(clock_mono_ms() - t0, 100);
    close(stop);

    // ...and within 100 ms when it becomes readable during the wait.
    stop = eventfd(0, EFD_CLOEXEC);
    std::thread poke([stop] {
        clock_sleep_ms(50);
        uint64_t one = 1;
        EXPECT_EQ(write(stop, &one, sizeof one), 8);
    });
    t0 = clock_mono_ms();
    EXPECT_EQ(netio_connect("127.0.0.1", l.port(), In(10000), stop, &fd, &err), KV_ERR_STOPPED);
    EXPECT_LT(clock_mono_ms() - t0, 150);
    poke.join();
    close(stop);
    for (int f : filled)
        close(f);
}

TEST(Netio, ReadTimeoutFromPeerThatNeverAnswers)
{
    // The connection completes (queued by the kernel) but is never accepted nor written to.
    Listener l;
    int fd = -1;
    struct kv_err err;
    ASSERT_EQ(netio_connect("127.0.0.1", l.port(), In(2000), -1, &fd, &err), KV_OK) << err.msg;
    char buf[16];
    size_t n = 77;
    int64_t t0 = clock_mono_ms();
    EXPECT_EQ(netio_read_some(fd, buf, sizeof buf, &n, In(100), -1, &err), KV_ERR_TIMEOUT);
    int64_t waited = clock_mono_ms() - t0;
    EXPECT_GE(waited, 95);
    EXPECT_LT(waited, 600);
    EXPECT_EQ(n, 77u) << "n untouched on failure";

    // A deadline in the past does not wait at all.
    t0 = clock_mono_ms();
    struct netio_reader r;
    netio_reader_init(&r, fd);
    struct kv_buf line = KV_BUF_INIT;
    EXPECT_EQ(netio_read_line(&r, &line, 100, clock_mono_ms() - 1, -1, &err), KV_ERR_TIMEOUT);
    EXPECT_LT(clock_mono_ms() - t0, 50);
    kv_buf_deinit(&line);
    close(fd);
}

TEST(Netio, StopFdInterruptsReadWithin100ms)
{
    Pair p;
    int stop = eventfd(0, EFD_CLOEXEC);
    std::thread poke([stop] {
        clock_sleep_ms(50);
        uint64_t one = 1;
        EXPECT_EQ(write(stop, &one, sizeof one), 8);
    });
    struct netio_reader r;
    netio_reader_init(&r, p.client);
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err err;
    int64_t t0 = clock_mono_ms();
    EXPECT_EQ(netio_read_line(&r, &line, 1024, In(10000), stop, &err), KV_ERR_STOPPED);
    int64_t waited = clock_mono_ms() - t0;
    EXPECT_GE(waited, 40);
    EXPECT_LT(waited, 150) << "stop took more than 100 ms to interrupt the read";
    poke.join();

    // A stop that is already pending wins over data waiting on the socket...
    SendRaw(p.server, "a\r\nb\r\n");
    char c;
    size_t n;
    EXPECT_EQ(netio_read_some(p.client, &c, 1, &n, In(1000), stop, &err), KV_ERR_STOPPED);
    EXPECT_EQ(netio_write_all(p.client, "x", 1, In(1000), stop, &err), KV_ERR_STOPPED);
    ASSERT_EQ(netio_read_line(&r, &line, 1024, In(1000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "a");
    // ...but bytes the reader already holds are returned without touching the socket.
    ASSERT_GT(netio_reader_buffered(&r), 0u);
    ASSERT_EQ(netio_read_line(&r, &line, 1024, In(1000), stop, &err), KV_OK);
    EXPECT_EQ(std::string(line.ptr, line.len), "b");
    EXPECT_EQ(netio_read_line(&r, &line, 1024, In(1000), stop, &err), KV_ERR_STOPPED);
    kv_buf_deinit(&line);
    close(stop);
}

TEST(Netio, ReadLineAcrossSplitWrites)
{
    Pair p;
    std::thread writer([&p] {
        // Each piece is sent separately with a pause, so the reader sees partial lines.
        for (const char *piece :
             {"+O", "K", "\r", "\n$5\r", "\nhel", "lo\r\n", "bare-lf\n:4", "2\r\n"}) {
            SendRaw(p.server, piece);
            clock_sleep_ms(20);
        }
    });
    struct netio_reader r;
    netio_reader_init(&r, p.client);
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err err;
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "+OK");
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "$5");
    char bulk[7];
    ASSERT_EQ(netio_read_n(&r, bulk, sizeof bulk, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(bulk, sizeof bulk), "hello\r\n");
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "bare-lf");
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), ":42");
    EXPECT_EQ(netio_reader_buffered(&r), 0u);
    writer.join();
    kv_buf_deinit(&line);
}

TEST(Netio, LongLinesAndLimits)
{
    Pair p;
    // Longer than the read-ahead buffer, and exactly at the limit.
    std::string big(3 * NETIO_READER_BUF + 17, 'x');
    std::thread writer([&] { SendRaw(p.server, big + "\r\n" + "12345\r\n" + "123456\r\n"); });
    struct netio_reader r;
    netio_reader_init(&r, p.client);
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err err;
    ASSERT_EQ(netio_read_line(&r, &line, big.size(), In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(line.len, big.size());
    EXPECT_EQ(std::string(line.ptr, line.len), big);
    ASSERT_EQ(netio_read_line(&r, &line, 5, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "12345");
    EXPECT_EQ(netio_read_line(&r, &line, 5, In(5000), -1, &err), KV_ERR_PROTOCOL);
    EXPECT_NE(strstr(err.msg, "longer than 5"), nullptr) << err.msg;
    writer.join();

    // An endless line is refused once it passes the limit, without waiting for a terminator.
    Pair q;
    SendRaw(q.server, std::string(5000, 'y'));
    netio_reader_init(&r, q.client);
    EXPECT_EQ(netio_read_line(&r, &line, 1000, In(5000), -1, &err), KV_ERR_PROTOCOL);
    kv_buf_deinit(&line);
}

TEST(Netio, ReadNLargeAndReaderReadSome)
{
    Pair p;
    std::string payload;
    for (int i = 0; i < 200000; i++)
        payload += static_cast<char>('a' + i % 26);
    std::thread writer([&] {
        SendRaw(p.server, "$200000\r\n");
        SendRaw(p.server, payload);
        SendRaw(p.server, "tail");
    });
    struct netio_reader r;
    netio_reader_init(&r, p.client);
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err err;
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "$200000");
    std::string got(payload.size(), '\0');
    ASSERT_EQ(netio_read_n(&r, &got[0], got.size(), In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_TRUE(got == payload);
    char tail[8];
    size_t n = 0, total = 0;
    while (total < 4) {
        ASSERT_EQ(
            netio_reader_read_some(&r, tail + total, sizeof tail - total, &n, In(5000), -1, &err),
            KV_OK);
        total += n;
    }
    EXPECT_EQ(std::string(tail, total), "tail");
    writer.join();
    kv_buf_deinit(&line);
}

TEST(Netio, PeerCloseIsClosed)
{
    struct kv_err err;
    {
        Pair p;
        close(p.server);
        p.server = -1;
        char buf[4];
        size_t n;
        EXPECT_EQ(netio_read_some(p.client, buf, sizeof buf, &n, In(2000), -1, &err),
                  KV_ERR_CLOSED);
    }
    {
        // EOF in the middle of a line and in the middle of a bulk.
        Pair p;
        SendRaw(p.server, "partial");
        close(p.server);
        p.server = -1;
        struct netio_reader r;
        netio_reader_init(&r, p.client);
        struct kv_buf line = KV_BUF_INIT;
        EXPECT_EQ(netio_read_line(&r, &line, 64, In(2000), -1, &err), KV_ERR_CLOSED);
        kv_buf_deinit(&line);
    }
    {
        Pair p;
        SendRaw(p.server, "abc");
        close(p.server);
        p.server = -1;
        struct netio_reader r;
        netio_reader_init(&r, p.client);
        char buf[10];
        EXPECT_EQ(netio_read_n(&r, buf, sizeof buf, In(2000), -1, &err), KV_ERR_CLOSED);
    }
    {
        // Writing to a closed peer: the first send may succeed, a later one sees the reset.
        Pair p;
        close(p.server);
        p.server = -1;
        std::string chunk(65536, 'z');
        enum kv_code rc = KV_OK;
        for (int i = 0; i < 100 && rc == KV_OK; i++)
            rc = netio_write_all(p.client, chunk.data(), chunk.size(), In(2000), -1, &err);
        EXPECT_EQ(rc, KV_ERR_CLOSED) << err.msg;
    }
}

TEST(Netio, WriteTimeoutWhenPeerDoesNotRead)
{
    Pair p;
    int small = 4096;
    setsockopt(p.client, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(p.server, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string chunk(8 << 20, 'w');
    struct kv_err err;
    int64_t t0 = clock_mono_ms();
    EXPECT_EQ(netio_write_all(p.client, chunk.data(), chunk.size(), In(200), -1, &err),
              KV_ERR_TIMEOUT);
    int64_t waited = clock_mono_ms() - t0;
    EXPECT_GE(waited, 190);
    EXPECT_LT(waited, 1000);
}

TEST(Netio, SpliceToFileTakesBufferedBytesFirstAndLeavesTheRestOnTheSocket)
{
    Pair p;
    std::string payload;
    for (int i = 0; i < 300000; i++)
        payload += static_cast<char>('a' + i % 23);
    std::thread writer([&] {
        SendRaw(p.server, "300000\r\n" + payload.substr(0, 1000));
        clock_sleep_ms(20); // the rest arrives later, beyond what the reader buffered
        SendRaw(p.server, payload.substr(1000) + "crc\r\n");
    });
    struct netio_reader r;
    netio_reader_init(&r, p.client);
    struct kv_buf line = KV_BUF_INIT;
    struct kv_err err;
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "300000");
    FILE *f = tmpfile();
    ASSERT_NE(f, nullptr);
    int fd = fileno(f);
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    size_t total = 0;
    while (total < payload.size()) {
        size_t n = 0;
        ASSERT_EQ(netio_reader_splice_some(&r, pipe_fds, fd, payload.size() - total, &n, In(5000),
                                           -1, &err),
                  KV_OK)
            << err.msg;
        ASSERT_GT(n, 0u);
        total += n;
    }
    EXPECT_EQ(total, payload.size());
    std::string got(payload.size(), '\0');
    ASSERT_EQ(pread(fd, &got[0], got.size(), 0), (ssize_t)got.size());
    EXPECT_TRUE(got == payload);
    // not a byte more than asked for left the socket: the line after it is still readable
    ASSERT_EQ(netio_read_line(&r, &line, 64, In(5000), -1, &err), KV_OK) << err.msg;
    EXPECT_EQ(std::string(line.ptr, line.len), "crc");
    writer.join();

    // a peer that goes away is reported as closed, a silent one runs into the deadline
    size_t n = 0;
    EXPECT_EQ(netio_reader_splice_some(&r, pipe_fds, fd, 10, &n, In(50), -1, &err), KV_ERR_TIMEOUT);
    close(p.server);
    p.server = -1;
    EXPECT_EQ(netio_reader_splice_some(&r, pipe_fds, fd, 10, &n, In(5000), -1, &err),
              KV_ERR_CLOSED);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    fclose(f);
    kv_buf_deinit(&line);
}
