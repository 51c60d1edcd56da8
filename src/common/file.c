/* SPDX-License-Identifier: Apache-2.0 */
#include "common/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"

static enum kv_code
io_error(struct kv_err *err, const char *what, int errnum)
{
    return kv_err_set(err, KV_ERR_IO, "%s: %s", what, strerror(errnum));
}

enum kv_code
file_write_all(int fd, const void *data, size_t n, struct kv_err *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            io_error(err, "write", e);
            errno = e; /* for a caller that names the file itself */
            return KV_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return KV_OK;
}

enum kv_code
file_write_atomic(const char *path, const void *data, size_t len, struct kv_err *err)
{
    struct kv_buf tmp = KV_BUF_INIT;
    kv_buf_printf(&tmp, "%s.tmp", path);
    mode_t mode = 0644;
    struct stat sb;
    if (stat(path, &sb) == 0)
        mode = sb.st_mode & 07777;
    enum kv_code rc = KV_OK;
    int fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = io_error(err, tmp.ptr, errno);
    } else {
        struct kv_err ignored;
        if (file_write_all(fd, data, len, &ignored) != KV_OK || fsync(fd) != 0)
            rc = io_error(err, tmp.ptr, errno);
        if (close(fd) != 0 && rc == KV_OK)
            rc = io_error(err, tmp.ptr, errno);
        if (rc == KV_OK && rename(tmp.ptr, path) != 0)
            rc = io_error(err, path, errno);
        if (rc != KV_OK)
            unlink(tmp.ptr);
    }
    /* The directory sync makes the rename last. Best effort: the file is already whole under
     * its name, and a caller told "failed" would act as if it were not. */
    if (rc == KV_OK) {
        struct kv_err ignored;
        (void)file_sync_parent(path, &ignored);
    }
    kv_buf_deinit(&tmp);
    return rc;
}

enum kv_code
file_sync_dir(const char *dir, struct kv_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error(err, dir, errno);
    enum kv_code rc = fsync(fd) == 0 ? KV_OK : io_error(err, dir, errno);
    close(fd);
    return rc;
}

enum kv_code
file_sync_parent(const char *path, struct kv_err *err)
{
    struct kv_buf dir = KV_BUF_INIT;
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        kv_buf_append_cstr(&dir, ".");
    else if (slash == path)
        kv_buf_append_cstr(&dir, "/");
    else
        kv_buf_append(&dir, path, (size_t)(slash - path));
    enum kv_code rc = file_sync_dir(dir.ptr, err);
    kv_buf_deinit(&dir);
    return rc;
}

enum kv_code
file_sync_dir_files(const char *dir, struct kv_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return io_error(err, dir, errno);
    enum kv_code rc = KV_OK;
    struct kv_buf path = KV_BUF_INIT;
    struct dirent *e;
    while (rc == KV_OK && (e = readdir(d)) != NULL) {
        kv_buf_clear(&path);
        kv_buf_printf(&path, "%s/%s", dir, e->d_name);
        int fd = open(path.ptr, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
            if (errno != ENOENT && errno != ELOOP)
                rc = io_error(err, path.ptr, errno);
            continue;
        }
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fsync(fd) != 0)
            rc = io_error(err, path.ptr, errno);
        close(fd);
    }
    closedir(d);
    kv_buf_deinit(&path);
    if (rc == KV_OK)
        rc = file_sync_dir(dir, err);
    return rc;
}
