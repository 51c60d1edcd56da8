/* SPDX-License-Identifier: Apache-2.0 */
#include "storage/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

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
