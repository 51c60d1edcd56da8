// SPDX-License-Identifier: Apache-2.0
//
// The thin bridge from the C logging macros (common/log.h) to glog. This is the only C++ file in
// src/. FATAL lines are written at ERROR severity and flushed: the caller decides to abort, so
// glog never kills the process behind the caller's back.
#include "common/log.h"

#include <atomic>
#include <mutex>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glog/logging.h>

int log_min_level = LOG_LEVEL_INFO;

namespace {
std::once_flag g_init_once;
std::atomic<bool> g_glog_ready{false};
bool g_to_stdout = true;
std::mutex g_stdout_mu;
} // namespace

extern "C" void
log_init(const char *argv0, const char *dir, enum log_level level)
{
    std::call_once(g_init_once, [&] {
        __atomic_store_n(&log_min_level, (int)level, __ATOMIC_RELAXED);
        FLAGS_logbufsecs = 0;
        FLAGS_max_log_size = 256;
        FLAGS_stop_logging_if_full_disk = true;
        if (dir == nullptr || dir[0] == '\0' || strcmp(dir, "stdout") == 0) {
            g_to_stdout = true;
            return;
        }
        g_to_stdout = false;
        FLAGS_log_dir = dir;
        FLAGS_minloglevel = 0;
        google::InitGoogleLogging(argv0 ? argv0 : "kvrocks");
        // File names kvrocks.INFO etc. as Kvrocks does.
        for (int sev = 0; sev < google::NUM_SEVERITIES; sev++) {
            std::string base =
                std::string(dir) + "/kvrocks." + google::GetLogSeverityName(sev) + ".";
            google::SetLogDestination(sev, base.c_str());
            std::string link = std::string("kvrocks.") + google::GetLogSeverityName(sev);
            (void)link;
        }
        google::SetLogSymlink(google::GLOG_INFO, "kvrocks");
        google::SetLogSymlink(google::GLOG_WARNING, "kvrocks");
        google::SetLogSymlink(google::GLOG_ERROR, "kvrocks");
        google::SetLogSymlink(google::GLOG_FATAL, "kvrocks");
        g_glog_ready = true;
    });
}

extern "C" void
log_set_level(enum log_level level)
{
    __atomic_store_n(&log_min_level, (int)level, __ATOMIC_RELAXED);
}

extern "C" int
log_level_parse(const char *name)
{
    if (strcasecmp(name, "debug") == 0)
        return LOG_LEVEL_DEBUG;
    if (strcasecmp(name, "info") == 0)
        return LOG_LEVEL_INFO;
    if (strcasecmp(name, "warning") == 0)
        return LOG_LEVEL_WARNING;
    if (strcasecmp(name, "error") == 0)
        return LOG_LEVEL_ERROR;
    if (strcasecmp(name, "fatal") == 0)
        return LOG_LEVEL_FATAL;
    return -2;
}

extern "C" const char *
log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_DEBUG:
        return "debug";
    case LOG_LEVEL_INFO:
        return "info";
    case LOG_LEVEL_WARNING:
        return "warning";
    case LOG_LEVEL_ERROR:
        return "error";
    case LOG_LEVEL_FATAL:
        return "fatal";
    }
    return "info";
}

extern "C" void
log_flush(void)
{
    if (g_glog_ready)
        google::FlushLogFiles(google::GLOG_INFO);
    fflush(stdout);
}

extern "C" void
log_shutdown(void)
{
    log_flush();
}

extern "C" void
log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!g_glog_ready) {
        static const char tags[] = "DIWEF";
        std::lock_guard<std::mutex> lk(g_stdout_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        localtime_r(&ts.tv_sec, &tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stdout, "%c%s.%06ld %s:%d] %s\n", tags[level + 1], when, ts.tv_nsec / 1000, base,
                line, msg);
        fflush(stdout);
        return;
    }
    google::LogSeverity sev = google::GLOG_INFO;
    if (level == LOG_LEVEL_WARNING)
        sev = google::GLOG_WARNING;
    else if (level >= LOG_LEVEL_ERROR)
        sev = google::GLOG_ERROR;
    google::LogMessage(base, line, sev).stream() << msg;
    if (level >= LOG_LEVEL_FATAL)
        google::FlushLogFiles(google::GLOG_INFO);
}

extern "C" void
kv_assert_fail(const char *expr, const char *file, int line)
{
    log_write(LOG_LEVEL_FATAL, file, line, "assertion failed: %s", expr);
    log_flush();
    abort();
}
