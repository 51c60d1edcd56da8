/* SPDX-License-Identifier: Apache-2.0
 *
 * log: printf-style logging macros for C, forwarded to glog by log_glog.cc (the only C++ file in
 * src/). Before log_init, or when log_init was given "stdout", lines go to stdout.
 *
 * Threads: any; glog serialises writers.
 */
#ifndef KV_COMMON_LOG_H
#define KV_COMMON_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum log_level {
    LOG_LEVEL_DEBUG = -1, /* goes to INFO with a "debug" tag; off unless log-level debug */
    LOG_LEVEL_INFO = 0,
    LOG_LEVEL_WARNING = 1,
    LOG_LEVEL_ERROR = 2,
    LOG_LEVEL_FATAL = 3,
};

/* Minimum level written; changed by log_set_level (CONFIG SET log-level). */
extern int log_min_level; /* accessed with relaxed atomic builtins */

/* Start logging. `dir` is a directory for kvrocks.INFO/WARNING/ERROR files, or "stdout".
 * `argv0` names the program in glog's file names. Safe to call once; later calls do nothing. */
void log_init(const char *argv0, const char *dir, enum log_level level);
void log_set_level(enum log_level level);
/* Parse "debug", "info", "warning", "error", "fatal"; returns -2 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);
/* Flush buffered log lines (at shutdown and before abort). */
void log_flush(void);
void log_shutdown(void);

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_AT(level, ...)                                                                         \
    do {                                                                                           \
        if ((int)(level) >= __atomic_load_n(&log_min_level, __ATOMIC_RELAXED))                     \
            log_write((level), __FILE__, __LINE__, __VA_ARGS__);                                   \
    } while (0)

#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARNING, __VA_ARGS__)
#define LOG_ERROR(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
/* Logs at error level and flushes; the caller aborts. */
#define LOG_FATAL(...) log_write(LOG_LEVEL_FATAL, __FILE__, __LINE__, __VA_ARGS__)

/* Programmer errors only: logs file, line and expression, then aborts. Never for input. */
#define KV_ASSERT(expr)                                                                            \
    do {                                                                                           \
        if (!(expr))                                                                               \
            kv_assert_fail(#expr, __FILE__, __LINE__);                                             \
    } while (0)

void kv_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
