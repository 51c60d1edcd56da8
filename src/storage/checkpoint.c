/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "common/file.h"
#include "common/mem.h"
#include "storage/storage_int.h"

enum kv_code
checkpoint_remove_dir(const char *dir, struct kv_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? KV_OK : kv_err_set(err, KV_ERR_IO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    enum kv_code rc = KV_OK;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (checkpoint_remove_dir(path, err) != KV_OK)
                rc = KV_ERR_IO;
        } else if (unlink(path) != 0 && errno != ENOENT) {
            rc = kv_err_set(err, KV_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        rc = kv_err_set(err, KV_ERR_IO, "cannot remove %s: %s", dir, strerror(errno));
    return rc;
}

enum kv_code
checkpoint_create(struct storage *st, const char *dir, uint64_t flush_log_bytes, uint64_t *seq,
                  struct kv_err *err)
{
    char *errptr = NULL;
    uint64_t before = rocksdb_get_latest_sequence_number(st->db);
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(st->db, &errptr);
    if (errptr == NULL)
        rocksdb_checkpoint_create(cp, dir, flush_log_bytes, &errptr);
    if (cp != NULL)
        rocksdb_checkpoint_object_destroy(cp);
    if (errptr != NULL) {
        kv_err_set(err, KV_ERR_IO, "cannot create checkpoint %s: %s", dir, errptr);
        rocksdb_free(errptr);
        struct kv_err ignored;
        checkpoint_remove_dir(dir, &ignored);
        return KV_ERR_IO;
    }
    *seq = before;
    return KV_OK;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum kv_code
checkpoint_list_files(const char *dir, struct kv_buf *out, struct kv_err *err)
{
    kv_buf_clear(out);
    DIR *d = opendir(dir);
    if (d == NULL)
        return kv_err_set(err, KV_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = kv_realloc(names, cap * sizeof *names);
        }
        names[n++] = kv_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            kv_buf_append_byte(out, ',');
        kv_buf_append_cstr(out, names[i]);
        kv_free(names[i]);
    }
    kv_free(names);
    return KV_OK;
}

/* The running kernel's boot id (a UUID), or false when it cannot be read. */
static bool
boot_id(char *out, size_t cap)
{
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return out[0] != '\0';
}

enum kv_code
checkpoint_mark_unsynced(const char *dir, struct kv_err *err)
{
    char id[128], path[4096], text[160];
    if (!boot_id(id, sizeof id))
        id[0] = '\0'; /* unknown: the mark then always reads as another boot's */
    snprintf(path, sizeof path, "%s/%s", dir, CHECKPOINT_UNSYNCED_MARK);
    int n = snprintf(text, sizeof text, "%s\n", id);
    return file_write_atomic(path, text, (size_t)n, err);
}

enum checkpoint_sync_state
checkpoint_sync_state(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CHECKPOINT_UNSYNCED_MARK);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CHECKPOINT_SYNCED : CHECKPOINT_UNSYNCED_OTHER_BOOT;
    char mark[160];
    ssize_t n = read(fd, mark, sizeof mark - 1);
    close(fd);
    mark[n > 0 ? n : 0] = '\0';
    mark[strcspn(mark, "\n")] = '\0';
    char now[128];
    if (mark[0] != '\0' && boot_id(now, sizeof now) && strcmp(mark, now) == 0)
        return CHECKPOINT_UNSYNCED_THIS_BOOT;
    return CHECKPOINT_UNSYNCED_OTHER_BOOT;
}

enum kv_code
checkpoint_settle(const char *dir, struct kv_err *err)
{
    enum kv_code rc = file_sync_dir_files(dir, err);
    if (rc == KV_OK)
        rc = file_sync_parent(dir, err);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CHECKPOINT_UNSYNCED_MARK);
    if (rc == KV_OK && unlink(path) != 0 && errno != ENOENT)
        rc = kv_err_set(err, KV_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    if (rc == KV_OK)
        rc = file_sync_dir(dir, err);
    return rc;
}

enum kv_code
checkpoint_recover(const char *dir, const char *aside, bool *moved_aside, struct kv_err *err)
{
    *moved_aside = false;
    switch (checkpoint_sync_state(dir)) {
    case CHECKPOINT_SYNCED:
        return KV_OK;
    case CHECKPOINT_UNSYNCED_THIS_BOOT:
        return checkpoint_settle(dir, err);
    case CHECKPOINT_UNSYNCED_OTHER_BOOT:
        break;
    }
    enum kv_code rc = checkpoint_remove_dir(aside, err);
    if (rc == KV_OK && rename(dir, aside) != 0)
        rc = kv_err_set(err, KV_ERR_IO, "cannot move %s to %s: %s", dir, aside, strerror(errno));
    if (rc == KV_OK) {
        *moved_aside = true;
        rc = file_sync_parent(dir, err);
    }
    return rc;
}
