/* SPDX-License-Identifier: Apache-2.0
 *
 * main: the entry point. Parses the command line, loads the config, starts logging, daemonizes
 * and writes the pidfile when asked, creates and starts the server, then waits for a stop signal
 * (SIGTERM, SIGINT) or a SHUTDOWN request while ticking the cron, and shuts down in a fixed order
 * within a deadline.
 *
 * Usage: kvrocks -c FILE [--option value ...] | -v | -h
 * Exit codes: 0 after a clean shutdown; 1 on a start-up error (printed to stderr as
 * "file:line: reason" for config errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "config/config.h"
#include "server/cron.h"
#include "server/server.h"

#define SHUTDOWN_DEADLINE_MS 10000

static void
usage(FILE *f)
{
    fprintf(f, "Usage: kvrocks -c <config file> [--<option> <value> ...]\n"
               "       kvrocks -v | --version\n"
               "       kvrocks -h | --help\n"
               "Options given as --<name> <value> override the config file.\n");
}

/* With daemonize: the write end of the pipe on which the daemon tells the parent, still waiting
 * in the foreground, how start-up went ("+" when serving, else the error text). -1 otherwise. */
static int startup_report_fd = -1;

/* A start-up error: to stderr, and to the waiting parent when daemonized (whose stderr is the
 * one the operator sees). */
static void __attribute__((format(printf, 1, 2))) startup_failed(const char *fmt, ...)
{
    char msg[KV_ERR_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", msg);
    if (startup_report_fd >= 0) {
        ssize_t n = write(startup_report_fd, msg, strlen(msg));
        (void)n;
        close(startup_report_fd);
        startup_report_fd = -1;
    }
}

/* The daemon is serving: release the parent. */
static void
startup_done(void)
{
    if (startup_report_fd >= 0) {
        ssize_t n = write(startup_report_fd, "+", 1);
        (void)n;
        close(startup_report_fd);
        startup_report_fd = -1;
    }
}

/* Fork; the parent waits until the daemon reports that it serves (exit 0) or failed (prints the
 * reason, exit 1), so `kvrocks` with `daemonize yes` fails visibly when the port is taken or the
 * DB cannot be opened. The child detaches (setsid, stdio to /dev/null) and returns 0. */
static int
daemonize(void)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid > 0) {
        close(pfd[1]);
        char buf[KV_ERR_MSG_MAX + 64];
        size_t n = 0;
        for (;;) {
            ssize_t r = read(pfd[0], buf + n, sizeof buf - 1 - n);
            if (r > 0) {
                n += (size_t)r;
                if (n == sizeof buf - 1)
                    break;
            } else if (r == 0 || errno != EINTR) {
                break;
            }
        }
        buf[n] = '\0';
        if (n > 0 && buf[0] == '+')
            _exit(0);
        if (n > 0)
            fprintf(stderr, "%s\n", buf);
        else
            fprintf(stderr, "the daemon (pid %d) exited during start-up\n", (int)pid);
        _exit(1);
    }
    close(pfd[0]);
    startup_report_fd = pfd[1];
    if (setsid() < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return 0;
}

/* Raise the soft limit on open files so that `maxclients` clients plus RocksDB's files fit (as
 * Kvrocks and Redis do at start-up); warn when the hard limit does not allow it. */
static void
adjust_open_files_limit(const struct config *cfg)
{
    rlim_t want = (rlim_t)cfg->maxclients + 64;
    if (cfg->rocksdb_max_open_files > 0)
        want += (rlim_t)cfg->rocksdb_max_open_files;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t target = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = target;
    if (target > old && setrlimit(RLIMIT_NOFILE, &rl) == 0)
        LOG_INFO("raised the open files limit from %llu to %llu", (unsigned long long)old,
                 (unsigned long long)target);
    else
        target = old;
    if (target < want)
        LOG_WARN("the open files limit is %llu, below maxclients + rocksdb.max_open_files + 64 "
                 "= %llu: clients may be refused before maxclients is reached",
                 (unsigned long long)target, (unsigned long long)want);
}

/* mkdir -p; 0 or -1 with errno. */
static int
make_dirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        tmp[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int
write_pidfile(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", (int)getpid());
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int
main(int argc, char **argv)
{
    const char *config_path = NULL;
    struct config *cfg = config_new();
    struct kv_err err;
    kv_err_clear(&err);

    /* First pass: find -c, -v, -h. Overrides are applied after the file. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("kvrocks-c version %s\n", KV_VERSION);
            config_free(cfg);
            return 0;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            config_free(cfg);
            return 0;
        }
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s needs a file name\n", argv[i]);
                usage(stderr);
                config_free(cfg);
                return 1;
            }
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--", 2) == 0) {
            i++; /* an override with its value, applied below */
        } else {
            fprintf(stderr, "unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            config_free(cfg);
            return 1;
        }
    }
    if (config_path != NULL && config_load_file(cfg, config_path, &err) != KV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "option %s needs a value\n", argv[i]);
            config_free(cfg);
            return 1;
        }
        if (config_set(cfg, argv[i] + 2, argv[i + 1], &err) != KV_OK) {
            fprintf(stderr, "command line %s: %s\n", argv[i], err.msg);
            config_free(cfg);
            return 1;
        }
        i++;
    }

    if (config_validate(cfg, &err) != KV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        config_free(cfg);
        return 1;
    }

    if (cfg->daemonize && daemonize() != 0) {
        startup_failed("cannot daemonize: %s", strerror(errno));
        config_free(cfg);
        return 1;
    }

    struct kv_buf logdir = KV_BUF_INIT;
    config_log_dir(cfg, &logdir);
    if (strcmp(logdir.ptr, "stdout") != 0 && make_dirs(logdir.ptr) != 0) {
        startup_failed("cannot create log directory %s: %s", logdir.ptr, strerror(errno));
        kv_buf_deinit(&logdir);
        config_free(cfg);
        return 1;
    }
    log_init(argv[0], logdir.ptr, (enum log_level)cfg->log_level);
    kv_buf_deinit(&logdir);
    LOG_INFO("kvrocks-c %s starting, pid %d, config %s", KV_VERSION, (int)getpid(),
             config_path ? config_path : "(none)");
    adjust_open_files_limit(cfg);

    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) makes writes beyond it fail with EFBIG, an error the storage
     * reports, instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    struct server *srv = NULL;
    if (server_new(cfg, &srv, &err) != KV_OK) {
        LOG_ERROR("start-up failed: %s", err.msg);
        startup_failed("start-up failed: %s", err.msg);
        log_flush();
        config_free(cfg);
        return 1;
    }
    config_set_apply_hook(cfg, server_apply_config, srv);

    config_pidfile_path(cfg, &srv->pidfile);
    if (cfg->daemonize || (cfg->pidfile != NULL && cfg->pidfile[0] != '\0')) {
        if (write_pidfile(srv->pidfile.ptr) != 0) {
            LOG_WARN("cannot write pidfile %s: %s", srv->pidfile.ptr, strerror(errno));
            kv_buf_clear(&srv->pidfile);
        }
    } else {
        kv_buf_clear(&srv->pidfile);
    }

    if (server_start(srv, &err) != KV_OK) {
        LOG_ERROR("start-up failed: %s", err.msg);
        startup_failed("start-up failed: %s", err.msg);
        char path[4096];
        snprintf(path, sizeof path, "%s", srv->pidfile.ptr ? srv->pidfile.ptr : "");
        server_stop_and_free(srv, clock_mono_ms() + SHUTDOWN_DEADLINE_MS);
        if (path[0] != '\0')
            unlink(path);
        config_free(cfg);
        return 1;
    }
    startup_done();

    struct cron cron;
    cron_init(&cron, srv);
    struct pollfd fds[2] = {{sfd, POLLIN, 0}, {srv->shutdown_fd, POLLIN, 0}};
    const char *why = "SHUTDOWN";
    for (;;) {
        int r = poll(fds, 2, CRON_TICK_MS);
        if (r < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                why = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
                break;
            }
        }
        if ((fds[1].revents & POLLIN) || atomic_load(&srv->shutting_down))
            break;
        cron_tick(&cron);
    }
    LOG_INFO("shutting down (%s)", why);
    char pidfile[4096];
    snprintf(pidfile, sizeof pidfile, "%s", srv->pidfile.ptr ? srv->pidfile.ptr : "");
    int64_t deadline_ms = clock_mono_ms() + SHUTDOWN_DEADLINE_MS;
    server_stop_and_free(srv, deadline_ms);
    if (pidfile[0] != '\0')
        unlink(pidfile);
    if (clock_mono_ms() >= deadline_ms) {
        /* server_stop_and_free gave up on a stuck worker and left the server (and the config
         * it reads) alive: do not free anything under running threads, and do not run exit
         * handlers (RocksDB's) either. Acknowledged writes are in the WAL already. */
        LOG_ERROR("shutdown did not complete within %d ms; exiting anyway", SHUTDOWN_DEADLINE_MS);
        log_flush();
        _exit(1);
    }
    LOG_INFO("bye");
    log_shutdown();
    config_free(cfg);
    if (sfd >= 0)
        close(sfd);
    return 0;
}
