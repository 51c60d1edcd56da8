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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int
daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
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
        fprintf(stderr, "cannot daemonize: %s\n", strerror(errno));
        config_free(cfg);
        return 1;
    }

    struct kv_buf logdir = KV_BUF_INIT;
    config_log_dir(cfg, &logdir);
    if (strcmp(logdir.ptr, "stdout") != 0)
        mkdir(logdir.ptr, 0755);
    log_init(argv[0], logdir.ptr, (enum log_level)cfg->log_level);
    kv_buf_deinit(&logdir);
    LOG_INFO("kvrocks-c %s starting, pid %d, config %s", KV_VERSION, (int)getpid(),
             config_path ? config_path : "(none)");

    /* Signals go to the main thread only: block them before any thread starts. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    struct server *srv = NULL;
    if (server_new(cfg, &srv, &err) != KV_OK) {
        LOG_ERROR("start-up failed: %s", err.msg);
        fprintf(stderr, "start-up failed: %s\n", err.msg);
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
        fprintf(stderr, "start-up failed: %s\n", err.msg);
        server_stop_and_free(srv, clock_mono_ms() + SHUTDOWN_DEADLINE_MS);
        config_free(cfg);
        return 1;
    }

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
    server_stop_and_free(srv, clock_mono_ms() + SHUTDOWN_DEADLINE_MS);
    if (pidfile[0] != '\0')
        unlink(pidfile);
    LOG_INFO("bye");
    log_shutdown();
    config_free(cfg);
    if (sfd >= 0)
        close(sfd);
    return 0;
}
